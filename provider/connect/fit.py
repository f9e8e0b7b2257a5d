"""Forge Invocation Tokens (FIT), as pure functions.

Forge calls a remote's ``endpoint`` with ``Authorization: Bearer <FIT>``: an RS256 JWT signed with
a key Forge publishes in its JWKS, ``iss`` ``forge/invocation-token``, ``aud`` the app's id (an
ARI), and claims naming the installation (``app.installationId``), the site (``context.cloudId``)
and where the installation's Jira API lives (``app.apiBaseUrl``). Verification follows
atlassian-connect-express's ``verify-forge-invocation-token``, with the algorithm fixed here and
never read from the token, and the same leeway and lifetime bound as Connect JWTs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from provider.connect.jwt import JwtError
from provider.connect.jwt import decode_claims
from provider.connect.jwt import unverified_header

ISSUER = "forge/invocation-token"
# Forge's kids are short identifiers; anything else cannot be one and is not looked up.
KID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
MAX_CLAIM_LENGTH = 2000


@dataclass(frozen=True, slots=True)
class ForgeInvocation:
    """What a verified invocation token says about its caller."""

    installation_id: str
    cloud_id: str
    api_base_url: str
    principal: str | None
    claims: dict[str, Any]


def invocation_key_id(token: str) -> str:
    """The ``kid`` naming the JWKS key that signed an invocation token.

    :raises JwtError: for a malformed token, another algorithm, or no usable ``kid``.
    """
    header = unverified_header(token)
    if header.get("alg") != "RS256":
        raise JwtError("Forge invocation tokens are signed with RS256.", code="invalid_algorithm")
    kid = header.get("kid")
    if not isinstance(kid, str) or not KID.fullmatch(kid):
        raise JwtError("The invocation token has no valid 'kid' header.", code="invalid_token")
    return kid


def verify_invocation(
    token: str, *, public_key: Any, app_id: str, leeway: int = 30
) -> ForgeInvocation:
    """Verify an invocation token with the key its ``kid`` names; what it says of the caller.

    :raises JwtError: for every failure.
    """
    invocation_key_id(token)
    claims = decode_claims(
        token,
        public_key,
        algorithm="RS256",
        leeway=leeway,
        audience=app_id,
        issuer=ISSUER,
        options={"require": ["iss", "aud", "exp"]},
    )
    app = _object(claims, "app")
    context = _object(claims, "context")
    if app.get("id") is not None and app.get("id") != app_id:
        raise JwtError("The invocation token is for another app.", code="invalid_audience")
    installation = app.get("installation")
    installation_id = app.get("installationId") or (
        installation.get("id") if isinstance(installation, dict) else None
    )
    principal = claims.get("principal")
    return ForgeInvocation(
        installation_id=_text(installation_id, "app.installationId"),
        cloud_id=_text(context.get("cloudId"), "context.cloudId"),
        api_base_url=_text(app.get("apiBaseUrl"), "app.apiBaseUrl"),
        principal=principal if isinstance(principal, str) and principal else None,
        claims=claims,
    )


def api_base_url_problem(url: str, *, cloud_id: str) -> str | None:
    """Why ``url`` is not the Jira API base of site ``cloud_id`` (``…/ex/jira/<cloudId>``), or None.

    The host is checked by the caller against the hosts it allows.
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        return "is not a URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "is not an absolute http(s) URL"
    if parts.username or parts.password or parts.query or parts.fragment:
        return "carries credentials, a query or a fragment"
    if parts.path.rstrip("/") != f"/ex/jira/{cloud_id}":
        return "is not the Jira API of the token's site"
    return None


def _object(claims: dict[str, Any], name: str) -> dict[str, Any]:
    value = claims.get(name)
    if not isinstance(value, dict):
        raise JwtError(f"The invocation token lacks the '{name}' claim.", code="invalid_token")
    return value


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_CLAIM_LENGTH:
        raise JwtError(f"The invocation token lacks a valid '{name}'.", code="invalid_token")
    return value
