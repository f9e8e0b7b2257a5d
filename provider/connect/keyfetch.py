"""GET a small public document (an install key, Forge's JWKS) with the standard library's client.

Keys are fetched rarely (a new ``kid``), by the web process. ``requests`` would stay resident in
each web worker that ever fetched one (6.2 MiB, measured in a worker forked from the built app,
its CA bundle loaded at import even for an http URL), while ``http.client`` is already loaded
(werkzeug imports it). What the fetch did with ``requests`` it still does: certificates checked
against certifi's bundle (requests' default) with the host name, no proxy, credentials or CA
bundle taken from the environment, no redirect followed, one timeout for the connection and for
each read. The body is read only up to the caller's limit, never whole.
"""

from __future__ import annotations

import http.client
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

USER_AGENT = "provider-key-fetch"


class FetchFailed(Exception):
    """The server could not be reached, or its answer could not be read."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    # At most ``max_bytes + 1`` bytes: a longer body is cut there, so ``len(body) > max_bytes``
    # tells the caller that it was too long.
    body: bytes


class KeyFetcher:
    """GETs with a timeout and a size limit; the TLS context is made at the first https GET."""

    def __init__(self, *, timeout: float, max_bytes: int) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._tls: ssl.SSLContext | None = None

    def get(self, url: str) -> Answer:
        """:raises FetchFailed: for a URL that is not http(s), or any network or protocol error."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        try:
            port = parts.port
        except ValueError:
            raise FetchFailed("InvalidURL") from None
        host = parts.hostname
        if scheme not in ("http", "https") or not host:
            raise FetchFailed("InvalidURL")
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        # The port is always given: without one, http.client reads "::1" as host ":" port 1.
        connection = (
            http.client.HTTPSConnection(
                host, port or 443, timeout=self.timeout, context=self._tls_context()
            )
            if scheme == "https"
            else http.client.HTTPConnection(host, port or 80, timeout=self.timeout)
        )
        try:
            connection.request("GET", target, headers={"Accept": "*/*", "User-Agent": USER_AGENT})
            response = connection.getresponse()
            return Answer(response.status, response.read(self.max_bytes + 1))
        except (OSError, http.client.HTTPException, ValueError) as e:
            # OSError: refused, reset, timed out, TLS failures; ValueError: a malformed URL or
            # header (UnicodeError, http.client.InvalidURL).
            raise FetchFailed(type(e).__name__) from None
        finally:
            connection.close()

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            import certifi  # requests' own CA bundle

            context = ssl.create_default_context(cafile=certifi.where())
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            self._tls = context
        return self._tls
