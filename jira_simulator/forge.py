"""Forge's side of a site the app was installed on the Forge way.

The simulated Forge:

* publishes its signing key as a JWKS at ``/forge/.well-known/jwks.json`` (the app's
  ``FORGE_JWKS_URL``);
* signs Forge Invocation Tokens: RS256 with that key's ``kid``, ``iss`` ``forge/invocation-token``,
  ``aud`` the app id (``FORGE_APP_ID``), ``app.installationId``, ``app.apiBaseUrl``
  (``<simulator>/ex/jira/<cloudId>``) and ``context.cloudId``;
* hands out an app system token (``x-forge-oauth-system``, valid an hour) with each invocation,
  and takes it back as a Bearer at the site's API base URL.

Jira's REST reference closes the Operations and DevOps Components APIs to Forge apps, so the
simulated sites refuse system tokens there (403) unless ``accepts_system_tokens`` is set.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from typing import Any

import jwt as pyjwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt.algorithms import RSAAlgorithm

from jira_simulator.keys import KeyPair
from jira_simulator.state import Site

JWKS_PATH = "/forge/.well-known/jwks.json"
API_PREFIX = "/ex/jira"
# The endpoint the manifest of `provider forge-manifest` declares for scheduled and lifecycle
# invocations.
INVOCATIONS_PATH = "/forge/invocations"
DEFAULT_APP_ID = "ari:cloud:ecosystem::app/5e7f0a52-9d2c-4f1e-8b3a-0c6d4e2f1a90"
INVOCATION_LIFETIME = 300
SYSTEM_TOKEN_LIFETIME = 3600
MAX_SYSTEM_TOKENS = 20


class Forge:
    """The simulated Forge platform of one simulator."""

    def __init__(
        self,
        *,
        app_id: str = DEFAULT_APP_ID,
        accepts_system_tokens: bool = False,
        keys: KeyPair | None = None,
    ) -> None:
        self.app_id = app_id
        self.accepts_system_tokens = accepts_system_tokens
        self._keys = keys
        self._lock = threading.Lock()
        # System tokens are opaque to the app; signing them only makes them look like Forge's.
        self._token_secret = secrets.token_urlsafe(32)

    @property
    def keys(self) -> KeyPair:
        # Made on first use: most simulators never play Forge, and RSA keys are slow to make.
        with self._lock:
            if self._keys is None:
                self._keys = KeyPair.generate()
            return self._keys

    def jwks(self) -> dict[str, Any]:
        public = load_pem_public_key(self.keys.public_pem.encode())
        assert isinstance(public, RSAPublicKey)  # noqa: S101 - KeyPair makes RSA keys
        jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
        return {"keys": [{**jwk, "kid": self.keys.kid, "use": "sig", "alg": "RS256"}]}

    @staticmethod
    def new_installation_id() -> str:
        return f"ari:cloud:ecosystem::installation/{uuid.uuid4()}"

    def invocation_token(self, site: Site, api_origin: str, **claims: Any) -> str:
        """A FIT for a call to the app on behalf of ``site`` (``claims`` override the defaults)."""
        now = int(time.time())
        api_base_url = f"{api_origin}{API_PREFIX}/{site.cloud_id}"
        payload: dict[str, Any] = {
            "iss": "forge/invocation-token",
            "aud": self.app_id,
            "iat": now,
            "nbf": now,
            "exp": now + INVOCATION_LIFETIME,
            "jti": uuid.uuid4().hex,
            "app": {
                "id": self.app_id,
                "version": "1.0.0",
                "installationId": site.forge_installation_id,
                "apiBaseUrl": api_base_url,
                "environment": {"type": "DEVELOPMENT", "id": site.cloud_id},
            },
            "context": {"cloudId": site.cloud_id, "siteUrl": site.base_url},
            "principal": site.account_id,
        }
        payload.update(claims)
        return pyjwt.encode(
            payload, self.keys.private_pem, algorithm="RS256", headers={"kid": self.keys.kid}
        )

    def system_token(self, site: Site) -> str:
        """A new app system token for ``site`` (hold the world lock: it is stored on the site)."""
        now = time.time()
        token = pyjwt.encode(
            {"sub": self.app_id, "cloudId": site.cloud_id, "exp": int(now) + SYSTEM_TOKEN_LIFETIME},
            self._token_secret,
            algorithm="HS256",
        )
        live = {t: exp for t, exp in site.system_tokens.items() if exp > now}
        live[token] = now + SYSTEM_TOKEN_LIFETIME
        # Newest last; only the most recent few stay valid, as Forge rotates them.
        site.system_tokens = dict(list(live.items())[-MAX_SYSTEM_TOKENS:])
        return token
