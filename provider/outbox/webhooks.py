"""Send outgoing-action webhooks (``postToUrl``) queued as outbox messages of kind ``webhook``.

The delivery worker calls :func:`send_webhook` with a message's payload and acts on the
:class:`WebhookOutcome`. The URL was checked when the action was configured; it is checked again
here, and the socket's actual peer address is checked before any byte is sent, so a host that
re-resolves to an internal address (DNS rebinding) or redirects there is refused.

Timeouts on connect and on each read do not bound a delivery: a server that trickles its answer
a byte at a time resets the read timeout forever and holds the worker. So every delivery also
has a deadline; when it passes, the sockets the delivery opened are shut down under it.
"""

from __future__ import annotations

import contextvars
import json
import logging
import socket
import threading
from collections.abc import Iterator
from collections.abc import Mapping
from contextlib import contextmanager
from contextlib import suppress
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from urllib.parse import urljoin

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection
from urllib3.connection import HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.connectionpool import HTTPSConnectionPool

from provider import netguard
from provider.config import Settings
from provider.jira.client import JiraClient
from provider.outbox.handlers import Batch
from provider.outbox.handlers import KindSpec
from provider.outbox.handlers import Outcome
from provider.outbox.kinds import Kind
from provider.outbox.kinds import Operation

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 3
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0
# The whole delivery, redirects included: the worker is never held longer than this by one hook.
SEND_DEADLINE = 20.0
USER_AGENT = "ops-provider-webhook/1"
_RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: Headers the sender sets itself; a configured header may not override them.
_RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})


@dataclass(frozen=True, slots=True)
class WebhookOutcome:
    """What happened to one webhook delivery.

    ``ok`` → done; ``retryable`` → try again later (after ``retry_after`` seconds if given);
    neither → a permanent failure to record (``error`` says why).
    """

    ok: bool
    retryable: bool = False
    status: int | None = None
    error: str | None = None
    retry_after: float | None = None


@dataclass
class _Delivery:
    """The sockets one delivery opened, and whether private addresses are allowed for it."""

    allow_private: bool
    sockets: list[socket.socket] = field(default_factory=list)
    expired: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def opened(self, sock: socket.socket) -> None:
        with self.lock:
            if self.expired:
                sock.close()
                raise TimeoutError("the delivery's deadline passed")
            self.sockets.append(sock)

    def expire(self) -> None:
        with self.lock:
            self.expired = True
            for sock in self.sockets:
                # a socket the client already closed has nothing waiting on it
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


_delivery: contextvars.ContextVar[_Delivery | None] = contextvars.ContextVar(
    "webhook_delivery", default=None
)


def _opened(sock: Any) -> None:
    delivery = _delivery.get()
    if delivery is None:
        return
    if not delivery.allow_private:
        _check_peer(sock)
    delivery.opened(sock)


class _GuardedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> Any:
        sock = super()._new_conn()
        _opened(sock)
        return sock


class _GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> Any:
        sock = super()._new_conn()
        _opened(sock)
        return sock


def _check_peer(sock: Any) -> None:
    peer = sock.getpeername()[0]
    try:
        netguard.check_address(peer, allow_private=False)
    except netguard.UnsafeDestination:
        sock.close()
        raise


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPPool,
            "https": _GuardedHTTPSPool,
        }


def _session() -> requests.Session:
    session = requests.Session()
    # Environment proxies would make the proxy, not the destination, the checked peer.
    session.trust_env = False
    adapter = _GuardedAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


@contextmanager
def _deadline(seconds: float, *, allow_private: bool) -> Iterator[_Delivery]:
    delivery = _Delivery(allow_private=allow_private)
    token = _delivery.set(delivery)
    timer = threading.Timer(seconds, delivery.expire)
    timer.daemon = True
    timer.start()
    try:
        yield delivery
    finally:
        timer.cancel()
        _delivery.reset(token)


def build_payload(
    *,
    url: str,
    body: Mapping[str, Any],
    headers: Mapping[str, str] | None = None,
    action_id: str = "",
    integration_id: str = "",
) -> dict[str, Any]:
    """The outbox payload :func:`send_webhook` understands (ops code builds it with this)."""
    return {
        "url": url,
        "method": "POST",
        "headers": dict(headers or {}),
        "body": dict(body),
        "actionId": action_id,
        "integrationId": integration_id,
    }


def send_webhook(
    payload: Mapping[str, Any],
    *,
    settings: Settings,
    resolver: netguard.Resolver = netguard.system_resolver,
    deadline: float = SEND_DEADLINE,
) -> WebhookOutcome:
    """POST ``payload["body"]`` as JSON to ``payload["url"]``, within ``deadline`` seconds.

    Never raises. A delivery cut by its deadline is retryable.

    :param resolver: the name lookup used by the URL check (the connection itself always uses
        the system's, and its peer address is checked separately).
    """
    url = payload.get("url")
    body = payload.get("body", {})
    if not isinstance(url, str):
        return WebhookOutcome(ok=False, error="webhook message has no url")
    headers = {
        str(k): str(v)
        for k, v in (payload.get("headers") or {}).items()
        if str(k).lower() not in _RESERVED_HEADERS
    }
    headers["Content-Type"] = "application/json"
    headers.setdefault("User-Agent", USER_AGENT)
    if unsendable := _unsendable(headers):
        # Saved before actions refused such headers: no retry will ever send it.
        return WebhookOutcome(ok=False, error=f"the action's header {unsendable} cannot be sent")
    data = json.dumps(body, separators=(",", ":"), default=str).encode("utf-8")
    allow = settings.allow_private_outbound
    with _deadline(deadline, allow_private=allow) as delivery, _session() as session:
        for _hop in range(MAX_REDIRECTS + 1):
            try:
                netguard.check_url(url, allow_private=allow, resolver=resolver)
                response = session.post(
                    url,
                    data=data,
                    headers=headers,
                    timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
                    allow_redirects=False,
                    stream=True,
                )
            except netguard.UnsafeDestination as e:
                logger.warning("webhook refused action=%s: %s", payload.get("actionId"), e)
                return WebhookOutcome(ok=False, error=str(e))
            except requests.RequestException as e:
                # The guard raises inside the connection; requests wraps it.
                unsafe = _unsafe_cause(e)
                if unsafe is not None:
                    logger.warning("webhook refused action=%s: %s", payload.get("actionId"), unsafe)
                    return WebhookOutcome(ok=False, error=str(unsafe))
                if delivery.expired:
                    logger.info(
                        "webhook cut at its deadline action=%s after %ss",
                        payload.get("actionId"),
                        deadline,
                    )
                    return WebhookOutcome(
                        ok=False, retryable=True, error=f"no answer within {deadline:g} s"
                    )
                logger.info("webhook network error action=%s: %s", payload.get("actionId"), e)
                return WebhookOutcome(ok=False, retryable=True, error=f"network error: {e}")
            with response:
                status = response.status_code
                if status in _REDIRECT_STATUSES and response.headers.get("Location"):
                    url = urljoin(url, response.headers["Location"])
                    continue
                return _classify(response)
    return WebhookOutcome(ok=False, error=f"more than {MAX_REDIRECTS} redirects")


def _unsendable(headers: Mapping[str, str]) -> str | None:
    for name, value in headers.items():
        try:
            requests.utils.check_header_validity((name, value))
            value.encode("latin-1")
        except (ValueError, UnicodeError):
            return name[:60]
    return None


def _unsafe_cause(error: BaseException) -> netguard.UnsafeDestination | None:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, netguard.UnsafeDestination):
            return current
        for arg in getattr(current, "args", ()):
            if isinstance(arg, BaseException):
                found = _unsafe_cause(arg)
                if found is not None:
                    return found
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            found = _unsafe_cause(reason)
            if found is not None:
                return found
        current = current.__cause__ or current.__context__
    return None


def _classify(response: requests.Response) -> WebhookOutcome:
    status = response.status_code
    if 200 <= status < 300:
        return WebhookOutcome(ok=True, status=status)
    retry_after = _retry_after(response.headers.get("Retry-After"))
    if status in _RETRYABLE_STATUSES:
        return WebhookOutcome(
            ok=False,
            retryable=True,
            status=status,
            error=f"HTTP {status}",
            retry_after=retry_after,
        )
    return WebhookOutcome(ok=False, status=status, error=f"HTTP {status}")


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return max(0.0, min(seconds, 3600.0))


WEBHOOK = Kind.WEBHOOK


class WebhookRetry(Exception):
    """A delivery that may succeed later (network error, 5xx, 429); the worker backs off."""


def kind_spec(settings: Settings) -> KindSpec:
    """The outbox handler of outgoing integration actions (``kind="webhook"``).

    One message per batch: a retry of a batch must never re-send a webhook that already went out.
    """

    def handle(batch: Batch, _jira: JiraClient | None) -> Outcome:
        outcome = Outcome()
        for message in batch.messages:
            result = send_webhook(message.payload, settings=settings)
            if result.ok:
                outcome.accepted.add(message.entity_id)
            elif result.retryable:
                raise WebhookRetry(result.error or f"HTTP {result.status}")
            else:
                outcome.failed[message.entity_id] = (result.error or f"HTTP {result.status}")[:2000]
        return outcome

    return KindSpec(handle, priority=10, max_batch={Operation.SEND: 1}, needs_jira=False)
