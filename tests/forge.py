"""Build exactly what Forge sends a remote: invocation tokens signed with a JWKS key, system tokens.

* invocation tokens (FIT): RS256 with a key Forge publishes in its JWKS (``kid`` header),
  ``iss`` ``forge/invocation-token``, ``aud`` the app's ARI, and the ``app`` and ``context``
  claims naming the installation, its site and its API base URL;
* app system tokens: short-lived JWTs the remote sends back to Jira as a Bearer.

Every claim can be overridden (``app={…}`` and ``context={…}`` merge into the nested claims), so
tests can build the broken tokens an attacker would.
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import jwt as pyjwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt.algorithms import RSAAlgorithm

from tests.signing import RsaKey

_UNSET: Any = object()
JWKS_PATH = ".well-known/jwks.json"


@functools.cache
def forge_rsa_key() -> RsaKey:
    """Forge's signing key for the test run (generating RSA keys is the slow part)."""
    return RsaKey.generate("forge-test-key")


def public_jwk(key: RsaKey) -> dict[str, Any]:
    public = load_pem_public_key(key.public_pem)
    assert isinstance(public, RSAPublicKey)
    jwk: dict[str, Any] = RSAAlgorithm.to_jwk(public, as_dict=True)  # type: ignore[assignment]
    return {**jwk, "kid": key.kid, "use": "sig", "alg": "RS256"}


def jwks(*keys: RsaKey) -> bytes:
    """A JWKS document publishing ``keys``."""
    return json.dumps({"keys": [public_jwk(k) for k in keys]}).encode()


@dataclass
class ForgeSigner:
    """Forge invoking one installation of the app."""

    cloud_id: str
    app_id: str = field(default_factory=lambda: f"ari:cloud:ecosystem::app/{uuid.uuid4()}")
    installation_id: str = field(
        default_factory=lambda: f"ari:cloud:ecosystem::installation/{uuid.uuid4()}"
    )
    api_origin: str = "https://api.atlassian.com"
    site_url: str = "https://acme.atlassian.net"
    key: RsaKey = field(default_factory=forge_rsa_key)

    @property
    def api_base_url(self) -> str:
        return f"{self.api_origin}/ex/jira/{self.cloud_id}"

    def claims(
        self,
        *,
        now: int | None = None,
        lifetime: int = 300,
        app: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
        **top: Any,
    ) -> dict[str, Any]:
        issued = int(time.time()) if now is None else now
        claims: dict[str, Any] = {
            "iss": "forge/invocation-token",
            "aud": self.app_id,
            "iat": issued,
            "nbf": issued,
            "exp": issued + lifetime,
            "jti": uuid.uuid4().hex,
            "app": {
                "id": self.app_id,
                "version": "1.0.0",
                "installationId": self.installation_id,
                "apiBaseUrl": self.api_base_url,
                "environment": {"type": "DEVELOPMENT", "id": str(uuid.uuid4())},
                **(app or {}),
            },
            "context": {"cloudId": self.cloud_id, "siteUrl": self.site_url, **(context or {})},
            "principal": "5b10ac8d82e05b22cc7d4ef5",
        }
        claims.update(top)
        return {k: v for k, v in claims.items() if v is not _UNSET}

    def invocation_token(
        self,
        *,
        key: RsaKey | None = None,
        kid: Any = _UNSET,
        algorithm: str = "RS256",
        **claim_overrides: Any,
    ) -> str:
        """A FIT as Forge signs it (overrides build broken ones)."""
        signing = key or self.key
        headers = {} if kid is None else {"kid": signing.kid if kid is _UNSET else kid}
        return pyjwt.encode(
            self.claims(**claim_overrides),
            signing.private_pem,
            algorithm=algorithm,
            headers=headers,
        )

    @staticmethod
    def system_token(lifetime: int = 3600) -> str:
        """An app system token: opaque to the remote, a JWT with an ``exp`` in practice."""
        now = int(time.time())
        claims = {"sub": "app-system", "iat": now, "exp": now + lifetime, "jti": uuid.uuid4().hex}
        return pyjwt.encode(claims, uuid.uuid4().hex * 2, algorithm="HS256")

    @staticmethod
    def headers(token: str, system_token: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {token}"}
        if system_token is not None:
            headers["x-forge-oauth-system"] = system_token
        return headers
