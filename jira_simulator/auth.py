"""How a simulated site checks the app's calls to its REST APIs: Connect JWTs or Forge's tokens.

A call to the site's own URL (``/sites/<name>/…``) must carry a Connect JWT signed with the
site's shared secret; a call to its API base URL (``/ex/jira/<cloudId>/…``) an app system token
the simulated Forge handed out with one of its invocations. Either way the descriptor must grant
the module and the scope the endpoint needs.
"""

from __future__ import annotations

import time

from jira_simulator.state import Site
from provider.connect.jwt import JwtError
from provider.connect.jwt import RequestTarget
from provider.connect.jwt import issuer_of
from provider.connect.jwt import verify_host_jwt

SCOPE_BY_METHOD = {"GET": "READ", "POST": "WRITE", "PUT": "WRITE", "DELETE": "DELETE"}
MAX_TOKEN_LIFETIME = 3600
JWT_LEEWAY = 30
INSTALLED = ("installing", "installed", "enabled", "disabled")


class AuthFailure(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


def authenticate_jwt(site: Site, method: str, raw_path: str, raw_query: str, header: str) -> None:
    """Check the app's JWT the way the site would.

    :raises AuthFailure: with the status and a short reason for the counters.
    """
    if not header.startswith("JWT "):
        raise AuthFailure(401, "missing_token", "Authorization: JWT <token> is required.")
    app = site.app
    if app is None or site.shared_secret is None or site.state not in INSTALLED:
        raise AuthFailure(401, "not_installed", "The app is not installed on this site.")
    token = header[4:].strip()
    secret = site.shared_secret
    target = RequestTarget(method, raw_path, raw_query, base_path=site.base_path)
    try:
        if issuer_of(token) != app.key:
            raise AuthFailure(401, "unknown_issuer", "The JWT issuer is not the installed app.")
        claims = verify_host_jwt(token, target, secret=secret, leeway=JWT_LEEWAY)
    except JwtError as e:
        raise AuthFailure(401, e.code, e.message) from None
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int | float) or not isinstance(exp, int | float):
        raise AuthFailure(401, "invalid_token", "iat and exp must be numbers.")
    if exp - iat > MAX_TOKEN_LIFETIME:
        raise AuthFailure(401, "lifetime_too_long", "The JWT lives longer than an hour.")
    if site.state == "disabled":
        raise AuthFailure(403, "app_disabled", "The app is disabled on this site.")


def authenticate_forge(site: Site, header: str, module: str, accepted: bool) -> None:
    """Check an app system token the way the site would (``accepted``: Forge apps may call).

    :raises AuthFailure: with the status and a short reason for the counters.
    """
    if not header.startswith("Bearer "):
        raise AuthFailure(401, "missing_token", "Authorization: Bearer <token> is required.")
    if site.app is None or site.forge_installation_id is None or site.state not in INSTALLED:
        raise AuthFailure(401, "not_installed", "The app is not installed on this site.")
    expires = site.system_tokens.get(header[7:].strip())
    if expires is None:
        raise AuthFailure(401, "invalid_token", "The token is not one this site issued.")
    if expires < time.time():
        raise AuthFailure(401, "token_expired", "The token has expired.")
    if not accepted:
        # What Jira's REST reference says of both APIs.
        raise AuthFailure(
            403,
            "forge_app",
            f"Only Connect apps that define the {module} module can access this resource.",
        )


def authorize(site: Site, module: str, method: str) -> None:
    """Check the descriptor grants the module and the scope the endpoint needs."""
    app = site.app
    assert app is not None  # noqa: S101 - authentication ran first
    if module and not app.has_module(module):
        raise AuthFailure(403, "missing_module", f"The app does not declare {module}.")
    scope = SCOPE_BY_METHOD[method]
    if scope not in app.scopes:
        raise AuthFailure(403, "missing_scope", f"The app lacks the {scope} scope.")
