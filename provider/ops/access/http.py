"""What every ``/v1`` handler shares: key authentication and rate limits, and newest-first pages."""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any
from typing import TypeVar
from typing import cast

from flask import Flask
from flask import g
from flask import request
from sqlalchemy import ColumnElement
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.db import get_session
from provider.db import separate_session
from provider.errors import BadRequest
from provider.errors import Forbidden
from provider.errors import TooManyRequests
from provider.errors import Unauthorized
from provider.extension import RATE_LIMITER
from provider.extension import Extension
from provider.ops.access.keys import KeyMemory
from provider.ops.access.principal import READ
from provider.ops.access.principal import ApiPrincipal
from provider.ops.access.principal import KeyResolvers
from provider.ratelimit import Limit
from provider.schema.endpoint import AuthSpec
from provider.schema.endpoint import mark_auth
from provider.schema.pages import PageQuery
from provider.schema.pages import page_of
from provider.schema.parsing import NUL_MESSAGE

F = TypeVar("F", bound=Callable[..., Any])

# How every key-authenticated operation is documented: either scheme, and the errors it adds
# (400 for NUL in the URL, 401, 403 for a missing permission, 429 for the key's rate limit).
API_KEY_AUTH = AuthSpec(
    security=({"GenieKey": []}, {"BasicAuth": []}), errors=frozenset({400, 401, 403, 429})
)
AUTH_CHALLENGE = 'GenieKey realm="provider", Basic realm="provider"'
# Failed authentications, per client address (behind the configured proxies) and per key
# prefix: a guesser is slowed wherever it comes from, and a known key's prefix cannot be worked
# on from many addresses. Keys are 256-bit random values, so a correct key is always accepted:
# refusing it would only let a guesser lock out everyone behind the same address.
FAILED_AUTH_PER_ADDRESS = Limit("failed-api-auth-per-address", "60/minute")
FAILED_AUTH_PER_PREFIX = Limit("failed-api-auth-per-key-prefix", "60/minute")
KEY_PREFIX_LENGTH = 12


@dataclass(frozen=True)
class ApiAccess:
    """How ``/v1`` callers authenticate: the key lookups, in order, each key's rate, and the
    short memory of resolved keys that the intake views may use."""

    resolvers: KeyResolvers
    per_key: Limit
    keys: KeyMemory


ACCESS: Extension[ApiAccess] = Extension("api_access")


def init_api(app: Flask, per_minute: int, resolvers: KeyResolvers, keys: KeyMemory) -> None:
    """Set up key authentication: ``resolvers`` are tried in order, the first that knows a key wins."""
    per_key = Limit("api-key", f"{max(per_minute, 1)}/minute")
    ACCESS.install(app, ApiAccess(resolvers, per_key, keys))


def _presented_key() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "geniekey" and value:
        return value
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise _unauthorized("The Basic credentials are not valid base64.") from None
        _user, sep, password = decoded.partition(":")
        if sep and password:
            return password
    raise _unauthorized(
        "An API key is required: send 'Authorization: GenieKey <key>' or Basic auth with the "
        "key as password."
    )


def _unauthorized(message: str) -> Unauthorized:
    return Unauthorized(message, headers={"WWW-Authenticate": AUTH_CHALLENGE})


def authenticate(*, recent: bool = False) -> ApiPrincipal:
    """Resolve the request's key to a principal.

    ``recent``: the view only records a request for the worker and reads nothing of the
    principal but its ids, names and permissions, so it may take what the key resolved to in
    the last few seconds (:mod:`provider.ops.access.keys`). The principal's rows are then
    transient copies, not in the request's session; and a key not remembered is looked up
    outside the request's transaction, so on SQLite the write lock waits for the write alone.

    :raises Unauthorized: when no key is given or the key is unknown.
    :raises TooManyRequests: when this address or this key prefix failed too often lately.
    """
    key = _presented_key()
    access = ACCESS.get()
    principal = (
        _recent_principal(access, key) if recent else access.resolvers.resolve(get_session(), key)
    )
    if principal is not None:
        return principal
    limiter = RATE_LIMITER.get()
    address = (request.remote_addr or "unknown")[:64]
    prefix = key[:KEY_PREFIX_LENGTH]
    wait = max(
        limiter.hit(FAILED_AUTH_PER_ADDRESS, address),
        limiter.hit(FAILED_AUTH_PER_PREFIX, prefix),
    )
    if wait:
        raise TooManyRequests(
            "Too many requests with keys that are not valid; retry later.",
            headers={"Retry-After": str(int(wait))},
        )
    raise _unauthorized("The API key is not valid.")


def _recent_principal(access: ApiAccess, key: str) -> ApiPrincipal | None:
    digest = access.keys.digest(key)
    principal = access.keys.recall(digest)
    if principal is not None:
        return principal
    generation = access.keys.generation
    session = separate_session(reading=True)
    try:
        principal = access.resolvers.resolve(session, key)
        if principal is not None:  # the rows are read while they are attached
            access.keys.remember(digest, principal, generation=generation)
    finally:
        session.close()  # the rows stay loaded, detached
    return principal


def take_rate_limit(principal: ApiPrincipal) -> None:
    """Count a request against its key's rate limit, shared by every process of the store.

    :raises TooManyRequests: when the key has none left, with the seconds to wait.
    """
    key_id = principal.key_id or f"workspace:{principal.workspace.id}"
    wait = RATE_LIMITER.get().hit(ACCESS.get().per_key, key_id)
    if wait:
        raise TooManyRequests(
            "Rate limit exceeded for this API key; retry later.",
            headers={"Retry-After": str(int(wait))},
        )


def api_key_required(action: str = READ, *, recent: bool = False) -> Callable[[F], F]:
    """Authenticate with a workspace or integration key, rate-limit it, check ``action``.

    Puts ``g.principal``, ``g.workspace`` and ``g.integration`` (``None`` for workspace keys) on
    the request. ``recent``: see :func:`authenticate`; only for views that record a request.
    """

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            _reject_nul_in_url()
            principal = authenticate(recent=recent)
            take_rate_limit(principal)
            if not principal.can(action):
                raise Forbidden(f"This API key may not {action} here.", code="access_denied")
            g.principal = principal
            g.workspace = principal.workspace
            g.integration = principal.integration
            return view(*args, **kwargs)

        mark_auth(wrapper, API_KEY_AUTH)
        return cast(F, wrapper)

    return decorator


def principal() -> ApiPrincipal:
    return cast(ApiPrincipal, g.principal)


def took() -> float:
    """Seconds since the request started, as the ``took`` of JSM and Opsgenie bodies."""
    now = time.perf_counter()
    started = float(g.get("started", now))
    return round(now - started, 3)


def _reject_nul_in_url() -> None:
    if "\x00" in request.path or any(
        "\x00" in k or "\x00" in v for k, v in request.args.items(multi=True)
    ):
        raise BadRequest(NUL_MESSAGE, code="invalid_characters")


def newest_first_page(
    model: Any, dump: Callable[[Session, Any], Any], page: PageQuery, *where: ColumnElement[bool]
) -> dict[str, Any]:
    """The fields of a :class:`Page` of the caller's workspace's ``model`` rows matching
    ``where``, newest first, each shown as ``dump(session, row)``.
    """
    session = get_session()
    where = (model.workspace_id == g.workspace.id, *where)
    total = session.scalar(select(func.count()).select_from(model).where(*where)) or 0
    rows = session.scalars(
        select(model)
        .where(*where)
        .order_by(model.created_at.desc(), model.id.desc())
        .offset(page.offset)
        .limit(page.size)
    )
    return page_of([dump(session, row) for row in rows], total, page)
