"""Build exactly what Jira sends to a Connect app: lifecycle payloads and their JWTs.

* request tokens: HS256 with the site's shared secret, ``iss`` = clientKey, ``iat``, ``exp``
  (+180 s, as Jira does) and the ``qsh`` of the request relative to the app's base URL;
* context tokens: the same with the literal ``qsh`` ``context-qsh`` (``AP.context.getToken()``);
* signed-install tokens: RS256 with Atlassian's key, a ``kid`` header, ``aud`` = app base URL,
  ``iss`` = clientKey and the ``qsh`` of the lifecycle request.

Every claim can be overridden, so tests can build the broken tokens an attacker would.
"""

from __future__ import annotations

import functools
import secrets
import time
import uuid
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import jwt as pyjwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from provider.connect.jwt import CONTEXT_QSH
from provider.connect.jwt import qsh_for_url

_UNSET: Any = object()


@dataclass(frozen=True)
class RsaKey:
    kid: str
    private_pem: bytes
    public_pem: bytes

    @classmethod
    def generate(cls, kid: str | None = None) -> RsaKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(
            kid=kid or str(uuid.uuid4()),
            private_pem=key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            public_pem=key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
        )


@functools.cache
def shared_rsa_key() -> RsaKey:
    """One RSA key per test run: generating 2048-bit keys is the slow part of signing."""
    return RsaKey.generate("test-install-key")


def _claims(
    *,
    iss: str,
    qsh: str,
    now: int | None,
    lifetime: int,
    iat: Any,
    exp: Any,
    extra: dict[str, Any] | None,
) -> dict[str, Any]:
    issued = int(time.time()) if now is None else now
    claims: dict[str, Any] = {
        "iss": iss,
        "iat": issued if iat is _UNSET else iat,
        "exp": issued + lifetime if exp is _UNSET else exp,
        "qsh": qsh,
        # Jira's tokens differ from one call to the next; lifecycle tokens are single-use here.
        "jti": uuid.uuid4().hex,
    }
    claims.update(extra or {})
    return {k: v for k, v in claims.items() if v is not _UNSET and v is not None}


@dataclass
class JiraSigner:
    """One Jira site talking to the app at ``app_base_url``."""

    app_base_url: str
    client_key: str = field(default_factory=lambda: f"jira:{uuid.uuid4()}")
    shared_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    jira_base_url: str = "https://acme.atlassian.net"
    install_key: RsaKey = field(default_factory=shared_rsa_key)
    cloud_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    # ── tokens ─────────────────────────────────────────────────────────────────────────────────

    def qsh(self, method: str, url: str) -> str:
        """The qsh Jira puts in a token for ``url`` (a path below the app's base URL)."""
        return qsh_for_url(method, url, self.app_base_url)

    def request_token(
        self,
        method: str,
        url: str,
        *,
        qsh: str | None = None,
        iss: str | None = None,
        secret: str | bytes | None = None,
        algorithm: str = "HS256",
        now: int | None = None,
        lifetime: int = 180,
        iat: Any = _UNSET,
        exp: Any = _UNSET,
        extra: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
    ) -> str:
        """An HS256 token the way Jira signs its calls (overrides build broken ones)."""
        claims = _claims(
            iss=iss or self.client_key,
            qsh=qsh if qsh is not None else self.qsh(method, url),
            now=now,
            lifetime=lifetime,
            iat=iat,
            exp=exp,
            extra=extra,
        )
        key: Any = self.shared_secret if secret is None else secret
        if algorithm.startswith(("RS", "PS")) and secret is None:
            key = self.install_key.private_pem
        return pyjwt.encode(claims, key, algorithm=algorithm, headers=headers)

    def context_token(self, **overrides: Any) -> str:
        """A context JWT (``AP.context.getToken()``): not bound to any URL."""
        return self.request_token("GET", "/", qsh=CONTEXT_QSH, **overrides)

    def install_token(
        self,
        method: str,
        url: str,
        *,
        qsh: str | None = None,
        iss: str | None = None,
        aud: Any = _UNSET,
        kid: Any = _UNSET,
        key: bytes | str | None = None,
        algorithm: str = "RS256",
        now: int | None = None,
        lifetime: int = 180,
        iat: Any = _UNSET,
        exp: Any = _UNSET,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """A signed-install lifecycle token (RS256, ``kid``, ``aud`` = the app's base URL)."""
        claims = _claims(
            iss=iss or self.client_key,
            qsh=qsh if qsh is not None else self.qsh(method, url),
            now=now,
            lifetime=lifetime,
            iat=iat,
            exp=exp,
            extra={"aud": self.app_base_url if aud is _UNSET else aud, **(extra or {})},
        )
        headers = {} if kid is None else {"kid": self.install_key.kid if kid is _UNSET else kid}
        return pyjwt.encode(
            claims,
            key if key is not None else self.install_key.private_pem,
            algorithm=algorithm,
            headers=headers,
        )

    # ── payloads and requests ──────────────────────────────────────────────────────────────────

    def install_payload(self, event_type: str = "installed", **overrides: Any) -> dict[str, Any]:
        """The body of a lifecycle callback, as Jira sends it."""
        payload: dict[str, Any] = {
            "key": "ops-provider",
            "clientKey": self.client_key,
            "sharedSecret": self.shared_secret,
            "serverVersion": "100276",
            "pluginsVersion": "1001.0.0.SNAPSHOT",
            "baseUrl": self.jira_base_url,
            "displayUrl": self.jira_base_url,
            "productType": "jira",
            "description": "Atlassian JIRA at " + self.jira_base_url,
            "eventType": event_type,
            "cloudId": self.cloud_id,
        }
        payload.update(overrides)
        return {k: v for k, v in payload.items() if v is not _UNSET}

    def lifecycle_path(self, event_type: str) -> str:
        return f"{self._base_path()}/{event_type}"

    def _base_path(self) -> str:
        from provider.connect.jwt import base_path_of

        return base_path_of(self.app_base_url)

    @staticmethod
    def auth(token: str) -> dict[str, str]:
        return {"Authorization": f"JWT {token}"}

    def lifecycle(
        self, client: Any, event_type: str, *, token: str | None = None, **payload: Any
    ) -> Any:
        """POST a signed lifecycle callback the way Jira does."""
        path = self.lifecycle_path(event_type)
        if token is None:
            token = self.install_token("POST", path)
        return client.post(
            path, json=self.install_payload(event_type, **payload), headers=self.auth(token)
        )

    def get(self, client: Any, url: str, **kwargs: Any) -> Any:
        return client.get(url, headers=self.auth(self.request_token("GET", url)), **kwargs)

    def post(self, client: Any, url: str, **kwargs: Any) -> Any:
        return client.post(url, headers=self.auth(self.request_token("POST", url)), **kwargs)

    def put(self, client: Any, url: str, **kwargs: Any) -> Any:
        return client.put(url, headers=self.auth(self.request_token("PUT", url)), **kwargs)
