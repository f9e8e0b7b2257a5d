"""The GET both key caches make: Atlassian's install keys and Forge's JWKS.

Either fetch can be set off by a stranger's token naming a new ``kid``, so both go out the same
way: a timeout for the connection and for each read, no redirects (a key server's redirect is no
key), certificates checked against certifi's bundle (requests' own) with the host name, and no
proxy, CA bundle or credentials taken from the environment. The body is read only up to the
caller's limit. What an answer means (an unknown ``kid``, a malformed key) is the caller's to say.

The standard library's client, not requests: a key is fetched rarely, by the web process, and
requests would then stay resident in that worker (6.2 MiB, measured in a worker forked from the
built app: its modules, the codecs charset_normalizer loads, and the certifi bundle it loads
into an SSL context at import, even for an http URL). werkzeug has loaded ``http.client``.
"""

from __future__ import annotations

import http.client
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

USER_AGENT = "provider-key-fetch"


class KeyServerUnreachable(Exception):
    """No answer: the connection failed or timed out, or the answer could not be read."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    # At most ``max_bytes + 1`` bytes: a longer body is cut there, so ``len(body) > max_bytes``
    # tells the caller it was too long without the whole of it having been read.
    body: bytes


class KeyFetcher:
    def __init__(self, *, timeout: float, max_bytes: int) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        # Made at the first https fetch: loading the CA bundle costs a few MiB.
        self._tls: ssl.SSLContext | None = None

    def get(self, url: str) -> Answer:
        """:raises KeyServerUnreachable: when no answer came, or the URL is not http(s)."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        try:
            port = parts.port
        except ValueError:
            raise KeyServerUnreachable("InvalidURL") from None
        host = parts.hostname
        if scheme not in ("http", "https") or not host:
            raise KeyServerUnreachable("InvalidURL")
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection: http.client.HTTPConnection | None = None
        try:
            # The port is always given: without one, http.client reads "::1" as host ":" port 1.
            if scheme == "https":
                connection = http.client.HTTPSConnection(
                    host, port or 443, timeout=self.timeout, context=self._tls_context()
                )
            else:
                connection = http.client.HTTPConnection(host, port or 80, timeout=self.timeout)
            connection.request("GET", target, headers={"Accept": "*/*", "User-Agent": USER_AGENT})
            response = connection.getresponse()
            return Answer(response.status, response.read(self.max_bytes + 1))
        except (OSError, http.client.HTTPException, ValueError) as e:
            # OSError: refused, reset, timed out, TLS failures, an unreadable CA bundle;
            # ValueError: a malformed URL or header (UnicodeError, http.client.InvalidURL).
            raise KeyServerUnreachable(type(e).__name__) from None
        finally:
            if connection is not None:
                connection.close()

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            import certifi

            context = ssl.create_default_context(cafile=certifi.where())
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            self._tls = context
        return self._tls
