"""Verify the JWTs Jira sends with its calls to the app.

Every route that Jira calls declares what it takes: ``@jira_jwt_required(qsh="request")`` for
server-to-server calls and iframe loads (the ``qsh`` must be the hash of this very request) or
``qsh="context"`` for the admin page's XHR calls (``AP.context.getToken()``; only the literal
``context-qsh``). There is no route that accepts both, and no switch that turns checking off.
A route Forge may invoke as an ``endpoint`` also declares ``forge=True``: a request that brings a
Forge Invocation Token (``Authorization: Bearer``) is then verified as one
(:mod:`provider.connect.forge_auth`), and every other request as a Connect JWT, by the one view.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any
from typing import ParamSpec
from typing import TypeVar
from urllib.parse import quote

from flask import g
from flask import request

from provider.connect.forge_auth import authenticate_invocation
from provider.connect.forge_auth import bearer_token
from provider.connect.installations import InstallationStore
from provider.connect.jwt import HostToken
from provider.connect.jwt import JwtError
from provider.connect.jwt import QshMode
from provider.connect.jwt import RequestTarget
from provider.connect.jwt import read_host_token
from provider.connect.jwt import verify_host_jwt
from provider.connect.models import Installation
from provider.db import get_session
from provider.errors import Unauthorized
from provider.extension import SETTINGS
from provider.extension import Extension
from provider.logging import client_key_var

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")
# The token kinds a protected view takes, readable on the view itself; set with setattr because
# a function's type has no such attribute.
QSH_ATTR = "jira_jwt_qsh"
FORGE_ATTR = "forge_invocations"

# Jira's tokens are a few hundred bytes; anything far larger is not one of them and is refused
# before any parsing work is spent on it.
MAX_TOKEN_LENGTH = 8192
_PATH_SAFE = "/;=!$'()*+,:@&~"


def _wsgi_str(value: str) -> str:
    # WSGI hands over raw bytes as latin-1 strings; undo that so UTF-8 sent unencoded is read
    # the way the client wrote it.
    try:
        return value.encode("latin-1").decode("utf-8", errors="replace")
    except UnicodeEncodeError:
        return value


def request_target(environ: dict[str, Any], *, base_path: str = "") -> RequestTarget:
    """What the qsh of the current request is computed over, from the raw request URI.

    gunicorn gives ``RAW_URI`` and Werkzeug ``REQUEST_URI``: the request-target exactly as sent,
    still percent-encoded. Only when neither exists is the path rebuilt from the decoded
    ``PATH_INFO``, which cannot restore the original escaping of every character.
    """
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""
    if raw and not raw.startswith("/") and "://" in raw:
        # absolute-form request-target (a proxy's way of writing it): keep path and query only
        raw = "/" + raw.split("://", 1)[1].partition("/")[2]
    if raw:
        path, sep, query = _wsgi_str(raw).partition("?")
        if not sep:
            query = _wsgi_str(environ.get("QUERY_STRING", ""))
    else:
        decoded = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")) or "/"
        path = quote(decoded.encode("latin-1", errors="replace"), safe=_PATH_SAFE)
        query = _wsgi_str(environ.get("QUERY_STRING", ""))
    return RequestTarget(
        method=environ.get("REQUEST_METHOD", "GET"),
        raw_path=path.split("#", 1)[0],
        raw_query=query.split("#", 1)[0],
        base_path=base_path,
    )


def extract_token() -> str:
    """The JWT of the current request, from ``Authorization: JWT …`` or ``?jwt=``.

    :raises Unauthorized: when there is none, or more than one.
    """
    header = request.headers.get("Authorization", "")
    from_header: str | None = None
    if header:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() != "jwt" or not value.strip():
            raise Unauthorized("Use 'Authorization: JWT <token>'.", code="missing_token")
        from_header = value.strip()
    from_query = request.args.getlist("jwt")
    if from_header is not None and from_query:
        raise Unauthorized("Send the JWT in the header or the query, not both.", code="two_tokens")
    if len(from_query) > 1:
        raise Unauthorized("Send one JWT.", code="two_tokens")
    token = from_header if from_header is not None else (from_query[0] if from_query else "")
    if not token:
        raise Unauthorized("This endpoint requires a JWT signed by Jira.", code="missing_token")
    if len(token) > MAX_TOKEN_LENGTH:
        raise Unauthorized("The JWT is malformed.", code="invalid_token")
    return token


def form_body() -> str | None:
    """The raw form body, for Connect's POST/PUT-with-form-parameters qsh rule."""
    if request.mimetype != "application/x-www-form-urlencoded":
        return None
    return _wsgi_str(request.get_data(cache=True).decode("latin-1"))


INSTALLATIONS: Extension[InstallationStore] = Extension("installations")


def authenticate_request(mode: QshMode) -> Installation:
    """Verify the current request's JWT and return the calling installation.

    Sets ``g.installation``, ``g.jwt_claims`` and the log context.

    :raises Unauthorized: for every failure.
    """
    settings = SETTINGS.get()
    store = INSTALLATIONS.get()
    token = extract_token()
    base = request_target(request.environ, base_path=settings.base_path)
    target = RequestTarget(
        method=base.method,
        raw_path=base.raw_path,
        raw_query=base.raw_query,
        base_path=base.base_path,
        form_body=form_body() if mode == "request" else None,
    )
    read_only = bool(g.get("db_read_only"))
    try:
        read = read_host_token(token)
        issuer = read.issuer
        found = store.find(get_session(), issuer, recent=read_only)
        if found is None:
            raise JwtError("The JWT issuer is not an installed site.", code="unknown_issuer")
        try:
            claims = _verify(read, target, found.secret, mode, settings.jwt_leeway_seconds)
        except JwtError as e:
            if not (found.remembered and e.code == "invalid_signature"):
                raise
            # signed with a secret newer than the remembered one (a re-install elsewhere)
            store.forget(issuer)
            found = store.find(get_session(), issuer)
            if found is None:
                raise
            claims = _verify(read, target, found.secret, mode, settings.jwt_leeway_seconds)
    except JwtError as e:
        logger.info("jira jwt refused path=%s code=%s", request.path, e.code)
        raise Unauthorized(e.message, code=e.code) from None
    if read_only:
        store.remember(found)
    g.installation = found.installation
    g.jwt_claims = claims
    client_key_var.set(found.installation.client_key)
    return found.installation


def _verify(
    read: HostToken, target: RequestTarget, secret: str, mode: QshMode, leeway: int
) -> dict[str, Any]:
    try:
        return verify_host_jwt(
            read.token, target, secret=secret, mode=mode, leeway=leeway, read=read
        )
    except (ValueError, TypeError, OverflowError, UnicodeError):
        # Decoding layers below PyJWT can still trip on hostile input; it is a bad token.
        raise JwtError("The JWT is malformed.", code="invalid_token") from None


def jira_jwt_required(
    qsh: QshMode = "request", *, forge: bool = False
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Protect a view: only an enabled installation's valid JWT of the declared kind passes.

    ``forge``: a Forge Invocation Token passes too (request-bound routes only: an invocation
    token is bound to its call, as a request qsh is).
    """
    if qsh not in ("request", "context"):
        raise ValueError(f"qsh must be 'request' or 'context', not {qsh!r}")
    if forge and qsh != "request":
        raise ValueError("only request-bound routes take Forge invocations")

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            if forge and bearer_token() is not None:
                authenticate_invocation()
            else:
                authenticate_request(qsh)
            return view(*args, **kwargs)

        setattr(wrapper, QSH_ATTR, qsh)
        setattr(wrapper, FORGE_ATTR, forge)
        return wrapper

    return decorator


def forge_invocation_required(view: Callable[P, R]) -> Callable[P, R]:
    """Protect a view only Forge invokes: a valid Forge Invocation Token, nothing else, passes."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        authenticate_invocation()
        return view(*args, **kwargs)

    setattr(wrapper, FORGE_ATTR, True)
    return wrapper


def current_installation() -> Installation:
    """The installation authenticated for this request (inside a protected view)."""
    installation: Installation = g.installation
    return installation
