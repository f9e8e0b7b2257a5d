"""Authenticated HTTP to a Jira site: every request carries the app's credential and stays on it.

A :class:`HostClient` is bound to one installation and speaks one of two modes:

* Connect: the site's ``baseUrl``, each request signed with a fresh Connect JWT (shared secret);
* Forge: the installation's ``apiBaseUrl`` (``https://api.atlassian.com/ex/jira/<cloudId>``),
  each request carrying the latest app system token Forge sent, as a Bearer.

Credentials are added in a :class:`requests.auth.AuthBase` on the *prepared* request, so a
``qsh`` covers exactly the URL that goes on the wire (after ``requests`` encoded the query), and
the client never follows a redirect: a credential must not travel to another host, and a site
rename answers POSTs with a 302.
"""

from __future__ import annotations

import json as jsonlib
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase

from provider import __version__
from provider.connect.jwt import sign_hs256
from provider.connect.quota import QuotaHeaders
from provider.connect.quota import parse_quota_headers
from provider.times import utcnow

logger = logging.getLogger(__name__)

JWT_LIFETIME_SECONDS = 180
MAX_ERROR_BODY_CHARS = 2000


class JiraError(Exception):
    """A call to Jira did not succeed."""


class JiraHttpError(JiraError):
    """Jira answered with a status other than 2xx.

    ``retry_after`` is the wait Jira asked for, in seconds (from a ``Retry-After`` header given
    either as seconds or as an HTTP date), or ``None`` when it did not ask.
    """

    def __init__(self, status: int, body: str, retry_after: float | None = None) -> None:
        super().__init__(f"Jira answered {status}: {body[:200]}")
        self.status = status
        self.body = body
        self.retry_after = retry_after

    def messages(self) -> list[str]:
        """Jira's error messages from the body (``[{"message": …}]``), or the raw body."""
        return error_messages(self.body) or ([self.body[:500]] if self.body else [])


class JiraNetworkError(JiraError):
    """No answer from Jira: connection refused or dropped, DNS failure, timeout."""


class OffSiteUrl(JiraError):
    """A request was aimed outside the installation's base URL; it is never sent."""


def error_messages(body: str) -> list[str]:
    """Extract ``message`` values from Jira's error body (a JSON array, sometimes an object)."""
    try:
        data = jsonlib.loads(body)
    except ValueError:
        return []
    if isinstance(data, dict):
        data = data.get("errors", data.get("errorMessages", [data]))
    if not isinstance(data, list):
        return []
    out: list[str] = []
    for item in data:
        if isinstance(item, dict) and isinstance(item.get("message"), str):
            out.append(item["message"])
        elif isinstance(item, str):
            out.append(item)
    return out


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - utcnow()).total_seconds())


class ConnectJwtAuth(AuthBase):
    """Sign a prepared request as the app (``iss`` = app key) with the site's shared secret."""

    def __init__(self, *, app_key: str, shared_secret: str, base_url: str) -> None:
        self.app_key = app_key
        self._secret = shared_secret
        self.base_url = base_url

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        token = sign_hs256(
            iss=self.app_key,
            secret=self._secret,
            method=request.method or "GET",
            url=request.url or "",
            base_url=self.base_url,
            lifetime=JWT_LIFETIME_SECONDS,
        )
        request.headers["Authorization"] = f"JWT {token}"
        return request

    def __repr__(self) -> str:  # never show the secret in a traceback or a log line
        return f"ConnectJwtAuth(app_key={self.app_key!r}, base_url={self.base_url!r})"


class SystemTokenAuth(AuthBase):
    """Send an installation's Forge app system token as a Bearer."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:  # never show the token in a traceback or a log line
        return "SystemTokenAuth()"


class HostSessions:
    """One pooled :class:`requests.Session` per Jira host (scheme, host, port), shared by threads."""

    def __init__(self, *, pool_maxsize: int = 10) -> None:
        self._pool_maxsize = pool_maxsize
        self._sessions: dict[str, requests.Session] = {}
        self._lock = threading.Lock()

    def for_url(self, url: str) -> requests.Session:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        with self._lock:
            session = self._sessions.get(origin)
            if session is None:
                session = requests.Session()
                # Connect JWTs are per request; cookies and env proxies/netrc must not leak in.
                session.trust_env = False
                adapter = HTTPAdapter(pool_maxsize=self._pool_maxsize, max_retries=0)
                session.mount("http://", adapter)
                session.mount("https://", adapter)
                self._sessions[origin] = session
            return session

    def close(self) -> None:
        with self._lock:
            for session in self._sessions.values():
                session.close()
            self._sessions.clear()


@dataclass(frozen=True, slots=True)
class HttpOptions:
    connect_timeout: float = 5.0
    read_timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class JiraCall:
    """One request sent to Jira and what came back: for the points budget and the metrics.

    ``endpoint`` is the method and the path without ids (at most four segments), a bounded
    label; ``status`` is ``None`` when no answer arrived.
    """

    endpoint: str
    status: int | None
    seconds: float
    quota: QuotaHeaders = field(default_factory=QuotaHeaders)


def endpoint_label(method: str, path: str) -> str:
    segments = [s for s in path.split("?", 1)[0].split("/") if s][:4]
    return f"{method.upper()} /{'/'.join(segments)}"


class HostClient:
    """HTTP to one installation's Jira site, as the app.

    Paths are relative to ``base_url`` (the site's ``baseUrl``, which may carry a path such as
    ``/jira``, or its Forge ``apiBaseUrl``); absolute URLs and anything that would leave it are
    refused. Give ``shared_secret`` to sign Connect JWTs or ``system_token`` to send Forge's.
    """

    def __init__(
        self,
        *,
        base_url: str,
        app_key: str,
        shared_secret: str | None = None,
        system_token: str | None = None,
        sessions: HostSessions | None = None,
        options: HttpOptions | None = None,
        product: str = "ops-provider",
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise OffSiteUrl(f"installation base URL is not an http(s) URL: {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.app_key = app_key
        self.options = options or HttpOptions()
        self._sessions = sessions or HostSessions()
        self._auth: AuthBase
        if shared_secret is not None and system_token is None:
            self._auth = ConnectJwtAuth(
                app_key=app_key, shared_secret=shared_secret, base_url=self.base_url
            )
        elif system_token is not None and shared_secret is None:
            self._auth = SystemTokenAuth(system_token)
        else:
            raise ValueError("give a HostClient either a shared secret or a system token")
        self.product = product
        # Every request this client sent, in order: a client serves one batch, and the worker
        # reads what Jira said about its budget from here once the batch is done.
        self.calls: list[JiraCall] = []
        self._user_agent = f"{product}/{__version__} (+{app_key})"

    def url_for(self, path: str) -> str:
        segments = path.split("?", 1)[0].split("/")
        if (
            not path.startswith("/")
            or path.startswith("//")
            or "://" in path
            or "\\" in path
            or any(seg in ("..", ".") for seg in segments)
        ):
            raise OffSiteUrl(f"refusing a request outside the site: {path!r}")
        return self.base_url + path

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> requests.Response:
        """Send one authenticated request and return the 2xx response.

        :raises JiraHttpError: for any other status (redirects included).
        :raises JiraNetworkError: when no answer arrived.
        """
        url = self.url_for(path)
        session = self._sessions.for_url(url)
        request = requests.Request(
            method.upper(),
            url,
            params=dict(params or {}),
            json=json,
            headers={"Accept": "application/json", "User-Agent": self._user_agent},
            auth=self._auth,
        )
        prepared = session.prepare_request(request)
        self._check_on_site(prepared.url or "")
        endpoint = endpoint_label(method, path)
        started = time.perf_counter()
        try:
            response = session.send(
                prepared,
                timeout=(self.options.connect_timeout, self.options.read_timeout),
                allow_redirects=False,
            )
        except requests.RequestException as e:
            self.calls.append(JiraCall(endpoint, None, time.perf_counter() - started))
            logger.info(
                "jira request failed method=%s path=%s error=%s", method, path, type(e).__name__
            )
            raise JiraNetworkError(f"{type(e).__name__} calling {method} {path}") from e
        elapsed = time.perf_counter() - started
        quota = parse_quota_headers(response.headers)
        self.calls.append(JiraCall(endpoint, response.status_code, elapsed, quota))
        if not 200 <= response.status_code < 300:
            body = _text(response)
            raise JiraHttpError(
                response.status_code, body, parse_retry_after(response.headers.get("Retry-After"))
            )
        return response

    def _check_on_site(self, url: str) -> None:
        target, base = urlsplit(url), urlsplit(self.base_url)
        same_origin = (target.scheme, target.netloc.lower()) == (base.scheme, base.netloc.lower())
        base_path = base.path.rstrip("/")
        on_path = (
            not base_path or target.path == base_path or target.path.startswith(base_path + "/")
        )
        if not (same_origin and on_path):
            raise OffSiteUrl("refusing a request outside the installation's base URL")


def _text(response: requests.Response) -> str:
    try:
        return response.text[:MAX_ERROR_BODY_CHARS]
    except (requests.RequestException, UnicodeDecodeError, ValueError):
        return ""
