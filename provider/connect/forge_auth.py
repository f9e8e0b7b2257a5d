"""Verify the Forge Invocation Tokens Forge sends with its calls to the app's remote endpoints.

A request with ``Authorization: Bearer <FIT>`` on a route that takes Forge invocations passes
only when the token verifies against Forge's JWKS for this app's id, names an installation that
is installed and enabled here, on the site (``context.cloudId``) that installed it, and names
that site's Jira API (``app.apiBaseUrl``) on an allowed host. Every failure is a 401 and changes
nothing. Then, and only then, the app system token that came with the call
(``x-forge-oauth-system``) is kept as the installation's latest, in a transaction of its own, so
it survives whatever the view does next.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import g
from flask import request
from sqlalchemy.orm import Session

from provider.config import LOOPBACK_HOSTS
from provider.config import Settings
from provider.connect.fit import ForgeInvocation
from provider.connect.fit import api_base_url_problem
from provider.connect.fit import invocation_key_id
from provider.connect.fit import verify_invocation
from provider.connect.forge_keys import ForgeKeys
from provider.connect.forge_tokens import MAX_SYSTEM_TOKEN_LENGTH
from provider.connect.forge_tokens import find_by_forge_id
from provider.connect.forge_tokens import store_system_token
from provider.connect.jwt import JwtError
from provider.connect.lifecycle import host_allowed
from provider.connect.models import Installation
from provider.db import get_session
from provider.db import separate_session
from provider.errors import Unauthorized
from provider.extension import SECRET_BOX
from provider.extension import SETTINGS
from provider.extension import Extension
from provider.logging import client_key_var
from provider.times import utcnow

logger = logging.getLogger(__name__)

FORGE_KEYS: Extension[ForgeKeys] = Extension("forge_keys")
SYSTEM_TOKEN_HEADER = "x-forge-oauth-system"  # noqa: S105 - a header name, not a secret
MAX_TOKEN_LENGTH = 8192


def bearer_token() -> str | None:
    """The token of ``Authorization: Bearer …``, or None when the request does not send one."""
    scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def authenticate_invocation() -> Installation:
    """Verify the current request's invocation token; return the calling installation.

    Sets ``g.installation``, ``g.forge_invocation``, ``g.jwt_claims`` and the log context.

    :raises Unauthorized: for every failure.
    """
    settings = SETTINGS.get()
    try:
        invocation, system_token = _verify(settings)
        installation_id = _bind(invocation, system_token)
    except JwtError as e:
        logger.info("forge invocation refused path=%s code=%s", request.path, e.code)
        raise Unauthorized(e.message, code=e.code) from None
    except Unauthorized as e:
        logger.info("forge invocation refused path=%s code=%s", request.path, e.code)
        raise
    installation = get_session().get(Installation, installation_id)
    if installation is None:  # uninstalled and deleted in between: never the case, rows stay
        raise Unauthorized("The installation is not installed.", code="unknown_installation")
    g.installation = installation
    g.forge_invocation = invocation
    g.jwt_claims = invocation.claims
    client_key_var.set(installation.client_key)
    return installation


def _verify(settings: Settings) -> tuple[ForgeInvocation, str | None]:
    """The verified invocation and the system token sent with it; nothing is looked up yet.

    :raises JwtError: or :class:`Unauthorized`, for every failure.
    """
    token = bearer_token()
    if not token:
        raise JwtError("This endpoint requires a Forge invocation token.", code="missing_token")
    if len(token) > MAX_TOKEN_LENGTH:
        raise JwtError("The JWT is malformed.", code="invalid_token")
    if request.args.getlist("jwt"):
        raise JwtError("Send one token.", code="two_tokens")
    if settings.forge_app_id is None:
        raise JwtError(
            "This app takes no Forge invocations (FORGE_APP_ID is not set).",
            code="forge_not_configured",
        )
    key = FORGE_KEYS.get().public_key(invocation_key_id(token))
    try:
        invocation = verify_invocation(
            token, public_key=key, app_id=settings.forge_app_id, leeway=settings.jwt_leeway_seconds
        )
    except (ValueError, TypeError, OverflowError, UnicodeError):
        # Decoding layers below PyJWT can still trip on hostile input; it is a bad token.
        raise JwtError("The JWT is malformed.", code="invalid_token") from None
    problem = api_base_url_problem(invocation.api_base_url, cloud_id=invocation.cloud_id)
    parts = urlsplit(invocation.api_base_url)
    host = parts.hostname or ""
    if problem is None and not host_allowed(host, settings.forge_api_hosts):
        problem = "is not on a host in FORGE_API_HOSTS"
    elif problem is None and parts.scheme != "https" and host not in LOOPBACK_HOSTS:
        problem = "must use https"
    if problem is not None:
        raise JwtError(f"The token's app.apiBaseUrl {problem}.", code="invalid_api_base_url")
    return invocation, _system_token()


def _system_token() -> str | None:
    values = request.headers.getlist(SYSTEM_TOKEN_HEADER)
    if not values:
        return None
    token = values[0].strip()
    if len(values) > 1 or not token or len(token) > MAX_SYSTEM_TOKEN_LENGTH or " " in token:
        raise JwtError("The app system token is malformed.", code="invalid_system_token")
    return token


def _bind(invocation: ForgeInvocation, system_token: str | None) -> int:
    """The id of the installation the invocation is from, its system token kept.

    :raises JwtError: when no installation here is that one.
    """
    with separate_session(reading=system_token is None) as session:
        installation = _installation(session, invocation)
        if system_token is None:
            return installation.id
    with separate_session() as session:
        installation = _installation(session, invocation)
        if store_system_token(
            installation,
            system_token,
            api_base_url=invocation.api_base_url,
            box=SECRET_BOX.get(),
            now=utcnow(),
        ):
            session.commit()
            logger.info("forge system token refreshed client_key=%s", installation.client_key)
        return installation.id


def _installation(session: Session, invocation: ForgeInvocation) -> Installation:
    installation = find_by_forge_id(session, invocation.installation_id)
    if installation is None:
        raise JwtError(
            "The token's installation is not installed here.", code="unknown_installation"
        )
    # An install payload without a cloudId leaves nothing to compare; the Forge id still binds.
    if installation.cloud_id is not None and installation.cloud_id != invocation.cloud_id:
        raise JwtError("The token's site is not the installation's.", code="site_mismatch")
    return installation
