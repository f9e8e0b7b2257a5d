"""The workspace sign-in shared by every server-rendered page (reviews, incidents, components).

A person proves membership of the workspace by signing in with the workspace key. The session
lives in a signed cookie (HttpOnly, SameSite=Lax, Secure on https) that also carries the CSRF
token every form must echo; a key rotation ends every session. Sign-in attempts are counted in the
database, so the limit holds across processes.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import Response
from flask import g
from flask import make_response
from flask import render_template
from flask import request
from itsdangerous import BadSignature
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.config import Settings
from provider.errors import BadRequest
from provider.errors import Forbidden
from provider.errors import NotFound
from provider.errors import TooManyRequests
from provider.extension import SETTINGS
from provider.ops.incidents.models import SignInAttempt
from provider.ops.workspaces.models import Workspace
from provider.times import utcnow

logger = logging.getLogger(__name__)

COOKIE = "provider_reviews"
SESSION_AGE = timedelta(hours=8)
SIGN_IN_WINDOW = timedelta(minutes=15)
MAX_FAILED_SIGN_INS = 10
MAX_KEY_LENGTH = 200
# Where a sign-in may send the person back to: only these pages' paths.
PAGE_PREFIXES = ("/reviews", "/incidents/", "/components/")
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


@dataclass
class PageSession:
    csrf: str
    workspace_public_id: str | None = None
    key_fingerprint: str | None = None


def _settings() -> Settings:
    return SETTINGS.get()


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_settings().secret_key, salt="provider.reviews.session")


def fingerprint(workspace: Workspace) -> str:
    # Bound to the current key: rotating the workspace key signs everyone out.
    return hashlib.sha256(f"review-session:{workspace.api_key_hash}".encode()).hexdigest()[:32]


def load() -> PageSession:
    """This request's page session (a fresh, signed-out one if the cookie is absent or forged)."""
    if "page_session" in g:
        return g.page_session
    page = PageSession(csrf=secrets.token_urlsafe(32))
    raw = request.cookies.get(COOKIE)
    if raw:
        try:
            data = _serializer().loads(raw, max_age=int(SESSION_AGE.total_seconds()))
        except BadSignature:
            data = None
        if isinstance(data, dict) and isinstance(data.get("csrf"), str):
            page = PageSession(
                csrf=data["csrf"],
                workspace_public_id=data.get("ws") if isinstance(data.get("ws"), str) else None,
                key_fingerprint=data.get("kf") if isinstance(data.get("kf"), str) else None,
            )
    g.page_session = page
    return page


def signed_in_workspace(session: Session) -> Workspace | None:
    page = load()
    if not page.workspace_public_id or not page.key_fingerprint:
        return None
    workspace = session.scalars(
        select(Workspace).where(Workspace.public_id == page.workspace_public_id)
    ).first()
    if workspace is None or not hmac.compare_digest(fingerprint(workspace), page.key_fingerprint):
        return None
    return workspace


def require_signed_in(session: Session) -> Workspace:
    workspace = signed_in_workspace(session)
    if workspace is None:
        raise Forbidden("Sign in with the workspace key first.", code="not_signed_in")
    return workspace


def sign_in_as(workspace: Workspace) -> None:
    page = load()
    # A new session id (and CSRF token) on sign-in, so a token planted before cannot be reused.
    page.csrf = secrets.token_urlsafe(32)
    page.workspace_public_id = workspace.public_id
    page.key_fingerprint = fingerprint(workspace)


def sign_out() -> None:
    page = load()
    page.workspace_public_id = None
    page.key_fingerprint = None
    page.csrf = secrets.token_urlsafe(32)


def check_csrf() -> None:
    sent = request.form.get("csrf_token", "")
    if not sent or not hmac.compare_digest(sent, load().csrf):
        raise Forbidden("The form has expired or did not come from this site.", code="csrf_failed")


def persist(response: Response) -> Response:
    """After-request hook of every page blueprint: write the session, set the page headers."""
    page = g.get("page_session")
    if page is not None:
        value = _serializer().dumps(
            {"csrf": page.csrf, "ws": page.workspace_public_id, "kf": page.key_fingerprint}
        )
        response.set_cookie(
            COOKIE,
            value,
            max_age=int(SESSION_AGE.total_seconds()),
            # One sign-in for all the pages (reviews, incidents, components).
            path="/",
            httponly=True,
            samesite="Lax",
            secure=_settings().base_url.startswith("https://"),
        )
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    return response


def page(template: str, http_status: int = 200, **context: Any) -> Response:
    response = make_response(
        render_template(template, csrf_token=load().csrf, **context), http_status
    )
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    return response


def safe_next(value: str | None, default: str) -> str:
    # Only paths of these pages: never an absolute URL or a scheme-relative one (open redirect).
    if (
        value
        and value.startswith(PAGE_PREFIXES)
        and not value.startswith("//")
        and "\\" not in value
    ):
        return value
    return default


# PostgreSQL text cannot hold NUL: refuse it before any query (the /v1 edge does the same).
NUL_MESSAGE = "Text may not contain NUL (\\u0000) characters."


def reject_nul() -> None:
    """Before-request hook of every page blueprint.

    A NUL in the path can only be an id that does not exist (404); in a query or form field it is
    a 400, as at the /v1 edge.
    """
    if "\x00" in request.path:
        raise NotFound("No such page.", code="not_found")
    for fields in (request.args, request.form):
        if any("\x00" in k or "\x00" in v for k, v in fields.items(multi=True)):
            raise BadRequest(NUL_MESSAGE, code="invalid_characters")


def client_addr() -> str:
    return (request.remote_addr or "unknown")[:64]


def check_rate(session: Session) -> None:
    since = utcnow() - SIGN_IN_WINDOW
    failed = session.scalar(
        select(func.count())
        .select_from(SignInAttempt)
        .where(
            SignInAttempt.remote_addr == client_addr(),
            SignInAttempt.succeeded.is_(False),
            SignInAttempt.attempted_at >= since,
        )
    )
    if (failed or 0) >= MAX_FAILED_SIGN_INS:
        raise TooManyRequests(
            "Too many sign-in attempts; try again in a few minutes.",
            headers={"Retry-After": str(int(SIGN_IN_WINDOW.total_seconds()))},
        )
