"""Public keys that verify signed-install (RS256) lifecycle callbacks, fetched by ``kid``.

Atlassian rotates these keys by publishing a new ``kid``; a key never changes under a ``kid``, so a
key once fetched is cached for the life of the process (Atlassian staff confirmed caching by kid).

``/installed`` is reachable without credentials, so a stranger can name any ``kid``: a ``kid`` the
key server does not know is remembered as unknown for a while, and fetches of new kids are
limited per process, so such requests cannot turn the app into a load generator against the key
server. A server that was merely unreachable is not remembered: it may answer a moment later.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from collections import deque
from collections.abc import Callable
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from provider.connect.key_fetch import KeyFetcher
from provider.connect.key_fetch import KeyServerUnreachable
from provider.errors import Unauthorized

logger = logging.getLogger(__name__)

# Atlassian's kids are UUID-like; refusing anything else keeps a forged header from steering the
# fetch to another path of the key server (``../``, query strings, encoded slashes).
_KID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_MAX_PEM_BYTES = 16_384
DEFAULT_TIMEOUT_SECONDS = 5.0
DEFAULT_CACHE_SIZE = 256
UNKNOWN_KID_SECONDS = 600.0
# Atlassian rotates its install keys rarely; a burst of new kids is a probe, not a rotation.
FETCHES_PER_MINUTE = 20


class UnknownKid(Unauthorized):
    """The key server answered that it has no key for this kid."""


class InstallKeys(Protocol):
    """Where lifecycle callbacks get the public key for a ``kid``."""

    def public_key(self, kid: str) -> RSAPublicKey:
        """:raises Unauthorized: when no usable key exists for ``kid``."""
        ...


def parse_public_key(pem: bytes) -> RSAPublicKey:
    """:raises ValueError: unless ``pem`` is a PEM-encoded RSA public key."""
    key = load_pem_public_key(pem)
    if not isinstance(key, RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


class HttpInstallKeys:
    """Fetch keys from ``<base_url>/<kid>`` with a timeout and a status check, cached by kid."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        cache_size: int = DEFAULT_CACHE_SIZE,
        unknown_kid_seconds: float = UNKNOWN_KID_SECONDS,
        fetches_per_minute: int = FETCHES_PER_MINUTE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.cache_size = cache_size
        self.unknown_kid_seconds = unknown_kid_seconds
        self.fetches_per_minute = fetches_per_minute
        self.clock = clock
        self._fetcher = KeyFetcher(timeout=timeout, max_bytes=_MAX_PEM_BYTES)
        self._cache: OrderedDict[str, RSAPublicKey] = OrderedDict()
        self._unknown: OrderedDict[str, float] = OrderedDict()
        self._fetches: deque[float] = deque()
        self._lock = threading.Lock()

    def public_key(self, kid: str) -> RSAPublicKey:
        if not _KID.fullmatch(kid):
            raise Unauthorized("The lifecycle JWT has an invalid 'kid'.", code="invalid_kid")
        with self._lock:
            cached = self._cache.get(kid)
            if cached is not None:
                self._cache.move_to_end(kid)
                return cached
            self._admit_fetch(kid)
        try:
            key = self._fetch(kid)
        except UnknownKid:
            with self._lock:
                self._unknown[kid] = self.clock() + self.unknown_kid_seconds
                while len(self._unknown) > self.cache_size:
                    self._unknown.popitem(last=False)
            raise
        with self._lock:
            self._cache[kid] = key
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return key

    def _admit_fetch(self, kid: str) -> None:
        """:raises Unauthorized: for a kid known to be unknown, or past this minute's fetches."""
        now = self.clock()
        until = self._unknown.get(kid)
        if until is not None:
            if until > now:
                raise Unauthorized("The lifecycle JWT's 'kid' is not known.", code="unknown_kid")
            del self._unknown[kid]
        while self._fetches and self._fetches[0] <= now - 60:
            self._fetches.popleft()
        if len(self._fetches) >= self.fetches_per_minute:
            logger.warning("install key fetch refused kid=%s: too many new kids this minute", kid)
            raise Unauthorized(
                "The install key server could not be reached.", code="install_key_unavailable"
            )
        self._fetches.append(now)

    def _fetch(self, kid: str) -> RSAPublicKey:
        try:
            answer = self._fetcher.get(f"{self.base_url}/{kid}")
        except KeyServerUnreachable as e:
            logger.warning("install key fetch failed kid=%s error=%s", kid, e)
            raise Unauthorized(
                "The install key server could not be reached.", code="install_key_unavailable"
            ) from None
        if answer.status != 200:
            # A 404 body must never be taken for a key (atlassian-connect-express does this).
            logger.warning("install key fetch kid=%s status=%s", kid, answer.status)
            if answer.status in (404, 410):
                raise UnknownKid("The lifecycle JWT's 'kid' is not known.", code="unknown_kid")
            raise Unauthorized("The lifecycle JWT's 'kid' is not known.", code="unknown_kid")
        if len(answer.body) > _MAX_PEM_BYTES:
            raise Unauthorized("The install key is malformed.", code="invalid_install_key")
        try:
            return parse_public_key(answer.body)
        except (ValueError, TypeError):
            logger.warning("install key for kid=%s is not an RSA public key", kid)
            raise Unauthorized(
                "The install key is malformed.", code="invalid_install_key"
            ) from None


class StaticInstallKeys:
    """Keys known in advance (a local Jira simulator, or an air-gapped deployment's own keys)."""

    def __init__(self, keys: dict[str, bytes]) -> None:
        self._keys = {kid: parse_public_key(pem) for kid, pem in keys.items()}

    def public_key(self, kid: str) -> RSAPublicKey:
        key = self._keys.get(kid)
        if key is None:
            raise Unauthorized("The lifecycle JWT's 'kid' is not known.", code="unknown_kid")
        return key
