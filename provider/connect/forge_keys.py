"""The public keys that sign Forge Invocation Tokens, from Forge's JWKS, cached by ``kid``.

Forge rotates keys by publishing a new ``kid`` in its JWKS before signing with it, so a cached
key serves every token naming its ``kid``, and only an unknown ``kid`` sends the app back to the
JWKS. Anyone can send a token naming any ``kid``, so the JWKS is fetched at most once per
``min_refresh_seconds`` whatever the tokens say, and a ``kid`` still unknown after a fetch is
remembered as unknown for a while. The fetch goes through the outgoing-URL guard like every
other URL the app is configured to call.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt.algorithms import RSAAlgorithm

from provider import netguard
from provider.connect.fit import KID
from provider.connect.key_fetch import KeyFetcher
from provider.connect.key_fetch import KeyServerUnreachable
from provider.errors import Unauthorized

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 5.0
MIN_REFRESH_SECONDS = 10.0
MAX_JWKS_BYTES = 65_536
MAX_KEYS = 64


class ForgeKeys(Protocol):
    """Where invocation tokens get the public key for a ``kid``."""

    def public_key(self, kid: str) -> RSAPublicKey:
        """:raises Unauthorized: when no usable key exists for ``kid``."""
        ...


def parse_jwks(body: bytes) -> dict[str, RSAPublicKey]:
    """The RS256 signing keys of a JWKS document, by ``kid``.

    :raises ValueError: when the document is not a JWKS.
    """
    document = json.loads(body)
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list):
        raise ValueError("not a JWKS: no 'keys' list")
    found: dict[str, RSAPublicKey] = {}
    for jwk in keys[:MAX_KEYS]:
        if not _signing_key(jwk):
            continue
        key = RSAAlgorithm.from_jwk(jwk)
        if isinstance(key, RSAPublicKey):
            found[jwk["kid"]] = key
    return found


def _signing_key(jwk: Any) -> bool:
    return (
        isinstance(jwk, dict)
        and jwk.get("kty") == "RSA"
        and isinstance(jwk.get("kid"), str)
        and jwk.get("use", "sig") == "sig"
        and jwk.get("alg", "RS256") == "RS256"
        # A published private key would verify anything signed with it; it is no key of Forge's.
        and "d" not in jwk
    )


class HttpForgeKeys:
    """Fetch Forge's JWKS with a timeout, a status check and the outgoing-URL guard."""

    def __init__(
        self,
        jwks_url: str,
        *,
        allow_private: bool,
        resolver: netguard.Resolver = netguard.system_resolver,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        min_refresh_seconds: float = MIN_REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.jwks_url = jwks_url
        self.allow_private = allow_private
        self.resolver = resolver
        self.min_refresh_seconds = min_refresh_seconds
        self.clock = clock
        self._fetcher = KeyFetcher(timeout=timeout, max_bytes=MAX_JWKS_BYTES)
        self._keys: dict[str, RSAPublicKey] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()
        # Held across a fetch, so that a burst of tokens with a new kid fetches once.
        self._refresh = threading.Lock()

    def public_key(self, kid: str) -> RSAPublicKey:
        if not KID.fullmatch(kid):
            raise Unauthorized("The invocation token has an invalid 'kid'.", code="invalid_kid")
        key = self._cached(kid)
        if key is None:
            with self._refresh:
                key = self._cached(kid)
                if key is None and self._may_fetch():
                    self._fetch()
                    key = self._cached(kid)
        if key is None:
            raise Unauthorized("The invocation token's 'kid' is not known.", code="unknown_kid")
        return key

    def _cached(self, kid: str) -> RSAPublicKey | None:
        with self._lock:
            return self._keys.get(kid)

    def _may_fetch(self) -> bool:
        now = self.clock()
        if self._fetched_at is not None and now - self._fetched_at < self.min_refresh_seconds:
            return False
        # Failed fetches count too: a JWKS that is down is not asked again on every request.
        self._fetched_at = now
        return True

    def _fetch(self) -> None:
        """Replace the cached keys with the JWKS's: a key Forge withdrew stops verifying.

        :raises Unauthorized: when the JWKS cannot be fetched or read.
        """
        try:
            netguard.check_url(
                self.jwks_url, allow_private=self.allow_private, resolver=self.resolver
            )
            answer = self._fetcher.get(self.jwks_url)
        except netguard.UnsafeDestination as e:
            logger.error("forge jwks url refused: %s", e)
            raise _unavailable() from None
        except KeyServerUnreachable as e:
            logger.warning("forge jwks fetch failed error=%s", e)
            raise _unavailable() from None
        if answer.status != 200 or len(answer.body) > MAX_JWKS_BYTES:
            logger.warning("forge jwks fetch status=%s bytes=%s", answer.status, len(answer.body))
            raise _unavailable()
        try:
            keys = parse_jwks(answer.body)
        except (ValueError, TypeError, KeyError):
            logger.warning("forge jwks is not a key set")
            raise _unavailable() from None
        with self._lock:
            self._keys = keys
        logger.info("forge jwks fetched kids=%s", ",".join(sorted(keys)))


def _unavailable() -> Unauthorized:
    return Unauthorized("Forge's signing keys could not be fetched.", code="forge_keys_unavailable")
