"""What every ``/v1`` handler shares: key authentication, rate limits, bodies and pagination."""

from __future__ import annotations

import base64
import binascii
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any
from typing import TypeVar
from typing import cast
from urllib.parse import urlencode

from flask import Flask
from flask import current_app
from flask import g
from flask import request
from sqlalchemy import ColumnElement
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.db import get_session
from provider.errors import BadRequest
from provider.errors import Forbidden
from provider.errors import TooManyRequests
from provider.errors import Unauthorized
from provider.errors import ValidationFailed
from provider.ops.access.principal import READ
from provider.ops.access.principal import ApiPrincipal
from provider.ops.access.principal import KeyResolvers
from provider.schema.endpoint import AuthSpec
from provider.schema.endpoint import mark_auth
from provider.schema.pages import PageQuery

F = TypeVar("F", bound=Callable[..., Any])

# How every key-authenticated operation is documented: either scheme, and the errors it adds
# (400 for NUL in the URL, 401, 403 for a missing permission, 429 for the key's rate limit).
API_KEY_AUTH = AuthSpec(
    security=({"GenieKey": []}, {"BasicAuth": []}), errors=frozenset({400, 401, 403, 429})
)
RESOLVERS = "provider.api_key_resolvers"
LIMITER = "provider.api_rate_limiter"
AUTH_CHALLENGE = 'GenieKey realm="provider", Basic realm="provider"'


class TokenBucketLimiter:
    """A token bucket per key, in this process only (each web process has its own buckets)."""

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(max(per_minute, 1))
        self.rate = self.capacity / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Take a token; returns 0 when allowed, else the seconds until a token is available."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate


def init_api(app: Flask, per_minute: int, resolvers: KeyResolvers) -> None:
    """Set up key authentication: ``resolvers`` are tried in order, the first that knows a key wins."""
    app.extensions[RESOLVERS] = resolvers
    app.extensions[LIMITER] = TokenBucketLimiter(per_minute)


def key_resolvers(app: Flask) -> KeyResolvers:
    return cast(KeyResolvers, app.extensions[RESOLVERS])


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


def authenticate() -> ApiPrincipal:
    """Resolve the request's key to a principal.

    :raises Unauthorized: when no key is given or the key is unknown.
    """
    key = _presented_key()
    principal = key_resolvers(current_app).resolve(get_session(), key)
    if principal is None:
        raise _unauthorized("The API key is not valid.")
    return principal


def take_rate_limit(principal: ApiPrincipal) -> None:
    """Count a request against its key's rate limit.

    :raises TooManyRequests: when the key has none left, with the seconds to wait.
    """
    limiter: TokenBucketLimiter = current_app.extensions[LIMITER]
    wait = limiter.take(principal.key_id or f"workspace:{principal.workspace.id}")
    if wait > 0:
        raise TooManyRequests(
            "Rate limit exceeded for this API key; retry later.",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )


def api_key_required(action: str = READ) -> Callable[[F], F]:
    """Authenticate with a workspace or integration key, rate-limit it, check ``action``.

    Puts ``g.principal``, ``g.workspace`` and ``g.integration`` (``None`` for workspace keys) on
    the request.
    """

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            _reject_nul_in_url()
            principal = authenticate()
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
    started: float = g.get("started", now)
    return round(now - started, 3)


def json_body(*, optional: bool = False) -> Any:
    """The decoded JSON body (any content type); ``{}`` for an empty body when ``optional``.

    :raises BadRequest: for a body that is not valid JSON.
    """
    data = request.get_data(cache=True)
    if not data.strip():
        if optional:
            return {}
        raise BadRequest("A JSON request body is required.", code="invalid_json")
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        raise BadRequest("The request body is not valid JSON.", code="invalid_json") from None
    if _has_nul(value):
        raise BadRequest(NUL_MESSAGE, code="invalid_characters")
    return value


# PostgreSQL text cannot hold NUL, and no monitoring payload needs it: refuse it at the edge
# rather than fail later inside processing.
NUL_MESSAGE = "Text may not contain NUL (\\u0000) characters."


def _has_nul(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _reject_nul_in_url() -> None:
    if "\x00" in request.path or any(
        "\x00" in k or "\x00" in v for k, v in request.args.items(multi=True)
    ):
        raise BadRequest(NUL_MESSAGE, code="invalid_characters")


def query_flag(name: str) -> bool:
    return request.args.get(name, "").strip().lower() in ("1", "true", "yes")


@dataclass(frozen=True, slots=True)
class Page:
    offset: int
    size: int


def _int_arg(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        raise ValidationFailed(
            f"{name} must be a non-negative whole number", details={"source": {"parameter": name}}
        )
    return int(raw)


def parse_page(*, default_size: int = 20, max_size: int = 100, window: int | None = None) -> Page:
    """Read ``offset`` and ``size``.

    :raises ValidationFailed: for bad numbers, ``size`` outside 1..max, or a window overrun.
    """
    offset = _int_arg("offset", 0)
    size = _int_arg("size", default_size)
    if not 1 <= size <= max_size:
        raise ValidationFailed(
            f"size must be between 1 and {max_size}", details={"source": {"parameter": "size"}}
        )
    if window is not None and offset + size >= window:
        raise ValidationFailed(
            f"offset + size must be < {window}", details={"source": {"parameter": "offset"}}
        )
    return Page(offset, size)


def newest_first_page(
    session: Session, model: Any, where: list[ColumnElement[bool]], page: PageQuery
) -> tuple[list[Any], int]:
    """One page of ``model``'s rows matching ``where``, newest first, and how many match."""
    total = session.scalar(select(func.count()).select_from(model).where(*where)) or 0
    rows = session.scalars(
        select(model)
        .where(*where)
        .order_by(model.created_at.desc(), model.id.desc())
        .offset(page.offset)
        .limit(page.size)
    )
    return list(rows), total


def paginated(
    values: list[Any], total: int, page: Page, *, window: int | None = None
) -> dict[str, Any]:
    """``{"values", "count", "links": {"next"}}``; ``next`` is absent on the last page."""
    links: dict[str, str] = {}
    next_offset = page.offset + page.size
    if next_offset < total and (window is None or next_offset + page.size < window):
        args = {k: v for k, v in request.args.items() if k not in ("offset", "size")}
        args.update(offset=str(next_offset), size=str(page.size))
        links["next"] = f"{request.script_root}{request.path}?{urlencode(args)}"
    return {"values": values, "count": total, "links": links}
