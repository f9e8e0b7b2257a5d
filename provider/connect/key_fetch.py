"""The GET both key caches make: Atlassian's install keys and Forge's JWKS.

Either fetch can be set off by a stranger's token naming a new ``kid``, so both go out the same
way: a timeout, no redirects (a key server's redirect is no key), and one session per process,
made at the first fetch. What an answer means (an unknown ``kid``, a malformed key) is the
caller's to say.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import requests


class KeyServerUnreachable(Exception):
    """No answer: the connection failed or timed out."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes


class KeyFetcher:
    def __init__(self, *, timeout: float, trust_env: bool = True) -> None:
        self.timeout = timeout
        # Whether proxies and credentials from the environment apply (requests' ``trust_env``).
        self.trust_env = trust_env
        # requests (with urllib3, charset_normalizer, idna) is a few MiB of every web worker,
        # and a key is fetched only for a new kid: the session is made at the first fetch.
        self._session: requests.Session | None = None
        self._lock = threading.Lock()

    def get(self, url: str) -> Answer:
        """:raises KeyServerUnreachable: when no answer came."""
        import requests  # deferred: see __init__

        with self._lock:  # fetches run concurrently: one session for them all
            if self._session is None:
                self._session = requests.Session()
                self._session.trust_env = self.trust_env
            session = self._session
        try:
            response = session.get(url, timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as e:
            raise KeyServerUnreachable(type(e).__name__) from None
        return Answer(response.status_code, response.content)
