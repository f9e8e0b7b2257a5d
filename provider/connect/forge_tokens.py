"""Installations as Forge knows them: found by installation id, with their latest system token.

Forge sends the app system token (``x-forge-oauth-system``) with each invocation of an endpoint
that asks for it. It is short-lived and replaced often, so the latest one a verified invocation
brought is kept (encrypted) for calls the app makes without an inbound request. Functions here
never commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from urllib.parse import urlsplit

import jwt as pyjwt
from sqlalchemy import bindparam
from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.connect.lifecycle import host_allowed
from provider.connect.models import Installation
from provider.crypto import SecretBox
from provider.times import iso

logger = logging.getLogger(__name__)

MAX_SYSTEM_TOKEN_LENGTH = 8192
# A token this close to its expiry is not sent: it could expire on the way.
EXPIRY_MARGIN = timedelta(seconds=30)

_BY_FORGE_ID = select(Installation).where(
    Installation.forge_installation_id == bindparam("forge_id")
)


@dataclass(frozen=True, slots=True)
class SystemToken:
    token: str
    api_base_url: str
    expires_at: datetime | None

    def usable(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at - EXPIRY_MARGIN > now

    def __repr__(self) -> str:  # never show the token in a traceback or a log line
        return f"SystemToken(api_base_url={self.api_base_url!r}, expires_at={self.expires_at!r})"


class NoUsableToken(Exception):
    """No system token the app may send now; ``waiting`` when Forge's next invocation brings one."""

    def __init__(self, message: str, *, waiting: bool) -> None:
        super().__init__(message)
        self.waiting = waiting


def find_by_forge_id(session: Session, forge_id: str) -> Installation | None:
    """The active installation Forge calls ``forge_id``; None when there is none, or two."""
    rows = [
        row for row in session.scalars(_BY_FORGE_ID, {"forge_id": forge_id}).all() if row.active
    ]
    if len(rows) > 1:
        # Two sites cannot share a Forge installation; rather than guess, refuse both.
        logger.error("forge installation id names %s active installations", len(rows))
        return None
    return rows[0] if rows else None


def token_expiry(token: str) -> datetime | None:
    """The ``exp`` a system token states about itself, when it is a JWT that states one.

    Read, not verified: it only tells the app when to stop using a token Forge handed it.
    """
    try:
        claims = pyjwt.decode(token, options={"verify_signature": False})
    except pyjwt.PyJWTError:
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if not isinstance(exp, int | float) or not 0 < exp < 2**33:
        return None
    return datetime.fromtimestamp(exp, UTC)


def system_token_of(installation: Installation, box: SecretBox) -> SystemToken | None:
    """The installation's latest system token, or None (never received, or unreadable)."""
    encrypted = installation.forge_system_token_encrypted
    if encrypted is None or installation.forge_api_base_url is None:
        return None
    try:
        token = box.decrypt(encrypted)
    except ValueError:
        logger.error("forge system token cannot be decrypted; was SECRET_KEY changed?")
        return None
    return SystemToken(token, installation.forge_api_base_url, installation.forge_token_expires_at)


def store_system_token(
    installation: Installation,
    token: str,
    *,
    api_base_url: str,
    box: SecretBox,
    now: datetime,
) -> bool:
    """Keep ``token`` as the installation's latest; False when it already is (nothing changes).

    Only call this with what a verified invocation brought.
    """
    current = system_token_of(installation, box)
    if current is not None and current.token == token and current.api_base_url == api_base_url:
        return False
    installation.forge_system_token_encrypted = box.encrypt(token)
    installation.forge_api_base_url = api_base_url
    installation.forge_token_expires_at = token_expiry(token)
    installation.forge_token_received_at = now
    return True


def usable_system_token(
    installation: Installation, box: SecretBox, *, hosts: tuple[str, ...], now: datetime
) -> SystemToken:
    """The system token to call the installation's site with now.

    :raises NoUsableToken: without one (none yet, expired, or bound to a host no longer allowed).
    """
    token = system_token_of(installation, box)
    if token is None:
        raise NoUsableToken("no Forge system token received yet", waiting=True)
    if not token.usable(now):
        raise NoUsableToken(
            f"the Forge system token expired at {iso(token.expires_at)}", waiting=True
        )
    # Checked when it arrived; checked again in case FORGE_API_HOSTS changed since.
    if not host_allowed(urlsplit(token.api_base_url).hostname or "", hosts):
        raise NoUsableToken(
            "the Forge apiBaseUrl is not on a host in FORGE_API_HOSTS", waiting=False
        )
    return token
