"""Verify the JWTs Jira sends with its calls to the app.

Every route that Jira calls declares what it takes: ``@jira_jwt_required(qsh="request")`` for
server-to-server calls and iframe loads (the ``qsh`` must be the hash of this very request) or
``qsh="context"`` for the admin page's XHR calls (``AP.context.getToken()``; only the literal
``context-qsh``). There is no route that accepts both, and no switch that turns checking off.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any
from typing import ParamSpec
from typing import TypeVar
from urllib.parse import quote

from flask import Flask
from flask import current_app
from flask import g
from flask import request
from sqlalchemy import bindparam
from sqlalchemy import event
from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.config import Settings
from provider.connect.jwt import QshMode
from provider.connect.jwt import RequestTarget
from provider.connect.jwt import verify_host_jwt
from provider.connect.models import Installation
from provider.crypto import SecretBox
from provider.db import get_session
from provider.errors import Unauthorized
from provider.extension import SECRET_BOX
from provider.extension import SETTINGS
from provider.logging import client_key_var

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

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


class RecentInstallations:
    """Installations whose shared secret verified a token here in the last ``ttl`` seconds.

    Only views declared :func:`provider.db.read_only` use it (the type-ahead calls Jira makes
    most often), and it spares them the installation lookup, a third of such a request's
    database work. A lifecycle change made by this process forgets the entry at once (see
    ``_forget_changed_installations``); one made by another process is seen within ``ttl``.
    A token that fails against a remembered secret is tried again against the database, so a
    re-install's new secret is never refused.
    """

    def __init__(self, ttl: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._entries: dict[str, tuple[float, dict[str, Any], str]] = {}
        self._lock = threading.Lock()

    def get(self, client_key: str) -> tuple[Installation, str] | None:
        with self._lock:
            entry = self._entries.get(client_key)
        if entry is None or entry[0] < self.clock():
            return None
        # a transient copy per request: read-only views only read it
        return Installation(**entry[1]), entry[2]

    def remember(self, installation: Installation, secret: str) -> None:
        values = {c.key: getattr(installation, c.key) for c in Installation.__table__.columns}
        with self._lock:
            if len(self._entries) >= MAX_REMEMBERED:
                self._entries.clear()
            self._entries[installation.client_key] = (self.clock() + self.ttl, values, secret)

    def forget(self, client_key: str) -> None:
        with self._lock:
            self._entries.pop(client_key, None)


MAX_REMEMBERED = 10_000
_caches: weakref.WeakSet[RecentInstallations] = weakref.WeakSet()


def recent_installations(app: Flask) -> RecentInstallations:
    cache: RecentInstallations | None = app.extensions.get("provider.recent_installations")
    if cache is None:
        cache = app.extensions["provider.recent_installations"] = RecentInstallations()
        _caches.add(cache)
    return cache


@event.listens_for(Session, "after_flush")
def _forget_changed_installations(session: Session, _context: Any) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Installation):
            for cache in list(_caches):
                cache.forget(obj.client_key)


# Built once: every request Jira signs runs this lookup (see the note in provider.ops.jira_actions).
_BY_CLIENT_KEY = select(Installation).where(Installation.client_key == bindparam("client_key"))


def authenticate_request(mode: QshMode) -> Installation:
    """Verify the current request's JWT and return the calling installation.

    Sets ``g.installation``, ``g.jwt_claims`` and the log context.

    :raises Unauthorized: for every failure.
    """
    settings: Settings = SETTINGS.get()
    box: SecretBox = SECRET_BOX.get()
    token = extract_token()
    base = request_target(request.environ, base_path=settings.base_path)
    target = RequestTarget(
        method=base.method,
        raw_path=base.raw_path,
        raw_query=base.raw_query,
        base_path=base.base_path,
        form_body=form_body() if mode == "request" else None,
    )
    recent = recent_installations(current_app) if g.get("db_read_only") else None
    found: dict[str, Installation] = {}

    def remembered_secret(iss: str) -> str | None:
        hit = recent.get(iss) if recent is not None else None
        if hit is None:
            return stored_secret(iss)
        found["installation"], secret = hit
        found["remembered"] = hit[0]
        return secret

    def stored_secret(iss: str) -> str | None:
        if "\x00" in iss:
            # PostgreSQL refuses NUL in text parameters; no client key holds one anyway.
            return None
        installation = get_session().scalars(_BY_CLIENT_KEY, {"client_key": iss}).one_or_none()
        if installation is None or not installation.active:
            return None
        try:
            secret = box.decrypt(installation.shared_secret_encrypted)
        except ValueError:
            logger.error(
                "shared secret of client_key=%s cannot be decrypted; was SECRET_KEY changed?",
                iss,
            )
            return None
        found["installation"] = installation
        found.pop("remembered", None)
        if recent is not None:
            recent.remember(installation, secret)
        return secret

    def verify(secret_for: Callable[[str], str | None]) -> dict[str, Any]:
        return verify_host_jwt(
            token, target, secret_for=secret_for, mode=mode, leeway=settings.jwt_leeway_seconds
        )

    try:
        try:
            claims = verify(remembered_secret)
        except Unauthorized as e:
            if "remembered" not in found or e.code != "invalid_signature":
                raise
            # signed with a secret newer than the remembered one (a re-install elsewhere)
            recent.forget(found["installation"].client_key)  # type: ignore[union-attr]
            claims = verify(stored_secret)
    except Unauthorized as e:
        logger.info("jira jwt refused path=%s code=%s", request.path, e.code)
        raise
    except (ValueError, TypeError, OverflowError, UnicodeError):
        # Decoding layers below PyJWT can still trip on hostile input; it is a bad token.
        logger.info("jira jwt refused path=%s code=invalid_token", request.path)
        raise Unauthorized("The JWT is malformed.", code="invalid_token") from None
    installation = found["installation"]
    g.installation = installation
    g.jwt_claims = claims
    client_key_var.set(installation.client_key)
    return installation


def jira_jwt_required(
    qsh: QshMode = "request",
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Protect a view: only an enabled installation's valid JWT of the declared kind passes."""
    if qsh not in ("request", "context"):
        raise ValueError(f"qsh must be 'request' or 'context', not {qsh!r}")

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            authenticate_request(qsh)
            return view(*args, **kwargs)

        wrapper.jira_jwt_qsh = qsh  # type: ignore[attr-defined]
        return wrapper

    return decorator


def current_installation() -> Installation:
    """The installation authenticated for this request (inside a protected view)."""
    installation: Installation = g.installation
    return installation
