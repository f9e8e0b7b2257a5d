"""The workspace sign-in shared by every server-rendered page (reviews, incidents, components).

A person proves membership of the workspace by signing in with the workspace key. A signed
cookie (HttpOnly, SameSite=Lax, Secure on https) carries the CSRF token every form must echo and
a random session id; the session itself is a row (``PageSession``), so signing out ends it on the
server, and a key rotation ends every session of the workspace.

Failed sign-ins are limited per client address (behind the configured proxies) in the shared
rate limiter. A correct key is accepted even then: keys are 256-bit random values that no number
of guesses finds, and refusing them would let one guesser lock out everyone behind the same
address (a company's NAT).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import Blueprint
from flask import Response
from flask import g
from flask import make_response
from flask import render_template
from flask import request
from itsdangerous import BadSignature
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.config import Settings
from provider.errors import BadRequest
from provider.errors import Forbidden
from provider.errors import NotFound
from provider.errors import TooManyRequests
from provider.extension import RATE_LIMITER
from provider.extension import SETTINGS
from provider.ops.workspaces.models import Workspace
from provider.ratelimit import Limit
from provider.times import utcnow
from provider.web.models import PageSession

logger = logging.getLogger(__name__)

COOKIE = "provider_reviews"
SESSION_AGE = timedelta(hours=8)
FAILED_SIGN_INS = Limit("failed-sign-ins-per-address", "10/15 minutes")
MAX_KEY_LENGTH = 200
# Where a sign-in may send the person back to: only these pages' paths, written plainly (no
# scheme, no host, no backslash, no control character that could split a header).
PAGE_PREFIXES = ("/reviews", "/incidents/", "/components/")
_SAFE_PATH = re.compile(r"/[A-Za-z0-9/_.~%?=&+:@!$'()*,;-]*")
# Scripts only from this app's files (the incident console's refresh), never inline, so markup
# that slipped through escaping still cannot run. Styles from the app's stylesheets
# ('unsafe-inline' for the style attributes some pages still carry).
CSP = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)


@dataclass
class PageState:
    """What the cookie says: the CSRF token, and the session id when signed in."""

    csrf: str
    session_id: str | None = None
    # A confirmation for the next page shown (a save redirects, and the page after says so).
    notice: str | None = None


def _settings() -> Settings:
    return SETTINGS.get()


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_settings().secret_key, salt="provider.reviews.session")


def fingerprint(workspace: Workspace) -> str:
    # Bound to the current key: rotating the workspace key signs everyone out.
    return hashlib.sha256(f"review-session:{workspace.api_key_hash}".encode()).hexdigest()[:32]


def load() -> PageState:
    """This request's page state (a fresh, signed-out one if the cookie is absent or forged)."""
    if "page_state" in g:
        state: PageState = g.page_state
        return state
    state = PageState(csrf=secrets.token_urlsafe(32))
    raw = request.cookies.get(COOKIE)
    if raw:
        try:
            data = _serializer().loads(raw, max_age=int(SESSION_AGE.total_seconds()))
        except BadSignature:
            data = None
        if isinstance(data, dict) and isinstance(data.get("csrf"), str):
            sid, notice = data.get("sid"), data.get("notice")
            state = PageState(
                csrf=data["csrf"],
                session_id=sid if isinstance(sid, str) else None,
                notice=notice if isinstance(notice, str) else None,
            )
    g.page_state = state
    return state


def _token_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def signed_in_workspace(session: Session) -> Workspace | None:
    state = load()
    if not state.session_id:
        return None
    row = session.scalars(
        select(PageSession).where(
            PageSession.token_hash == _token_hash(state.session_id),
            PageSession.expires_at > utcnow(),
        )
    ).first()
    if row is None:
        return None
    workspace = session.get(Workspace, row.workspace_id)
    if workspace is None or not hmac.compare_digest(fingerprint(workspace), row.key_fingerprint):
        return None
    return workspace


def require_signed_in(session: Session) -> Workspace:
    workspace = signed_in_workspace(session)
    if workspace is None:
        raise Forbidden("Sign in with the workspace key first.", code="not_signed_in")
    return workspace


def sign_in_as(session: Session, workspace: Workspace) -> None:
    """Start a session (the caller commits); a new id and CSRF token, so none planted before works."""
    session.execute(delete(PageSession).where(PageSession.expires_at <= utcnow()))
    state = load()
    state.csrf = secrets.token_urlsafe(32)
    state.session_id = secrets.token_urlsafe(32)
    session.add(
        PageSession(
            token_hash=_token_hash(state.session_id),
            workspace_id=workspace.id,
            key_fingerprint=fingerprint(workspace),
            expires_at=utcnow() + SESSION_AGE,
        )
    )


def sign_out(session: Session) -> None:
    """End the session on the server (the caller commits): the old cookie signs in no more."""
    state = load()
    if state.session_id:
        session.execute(
            delete(PageSession).where(PageSession.token_hash == _token_hash(state.session_id))
        )
    state.session_id = None
    state.csrf = secrets.token_urlsafe(32)


def flash(notice: str) -> None:
    """Say ``notice`` on the next page this browser is shown (after the redirect of a save)."""
    load().notice = notice


def take_notice() -> str | None:
    """The notice to show on this page, once."""
    state = load()
    notice, state.notice = state.notice, None
    return notice


def check_csrf() -> None:
    sent = request.form.get("csrf_token", "")
    if not sent or not hmac.compare_digest(sent, load().csrf):
        raise Forbidden("The form has expired or did not come from this site.", code="csrf_failed")


def persist(response: Response) -> Response:
    """After-request hook of every page blueprint: write the session, set the page headers."""
    state = g.get("page_state")
    if state is not None:
        value = _serializer().dumps(
            {"csrf": state.csrf, "sid": state.session_id, "notice": state.notice}
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
    if value and value.startswith(PAGE_PREFIXES) and _SAFE_PATH.fullmatch(value):
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
    """The client's address as the outermost trusted proxy saw it (see ``PROXY_HOPS``)."""
    return (request.remote_addr or "unknown")[:64]


def count_failed_sign_in() -> None:
    """Count a failed sign-in from this address.

    :raises TooManyRequests: when it is one more than the limit allows. Counting and deciding are
        one atomic step of the limiter: a look first and a count after let parallel guesses all
        pass the look before any count landed.
    """
    wait = RATE_LIMITER.get().hit(FAILED_SIGN_INS, client_addr())
    if wait:
        raise TooManyRequests(
            "Too many failed sign-ins; try again in a few minutes.",
            headers={"Retry-After": str(int(wait))},
        )


class PageBlueprint(Blueprint):
    """A blueprint of pages: NULs refused before each request, the session kept after it."""

    def __init__(self, name: str, import_name: str, **options: Any) -> None:
        super().__init__(name, import_name, **options)
        self.before_request(reject_nul)
        self.after_request(persist)
