from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any

import pytest

from provider.config import Settings
from provider.outbox import webhooks
from provider.outbox.webhooks import build_payload
from provider.outbox.webhooks import send_webhook


class Receiver:
    """A real HTTP server on loopback that records what it receives and answers as told."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.responses: dict[str, tuple[int, dict[str, str]]] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                receiver.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": self.rfile.read(length),
                    }
                )
                status, headers = receiver.responses.get(self.path, (200, {}))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


def test_delivers_json_with_configured_headers(receiver: Receiver, settings: Settings) -> None:
    payload = build_payload(
        url=receiver.url + "/hook",
        body={"action": "Create", "alert": {"message": "m"}},
        headers={"X-Token": "abc", "Host": "evil.example"},
        action_id="a1",
    )
    outcome = send_webhook(payload, settings=settings)
    assert outcome.ok
    assert outcome.status == 200
    (got,) = receiver.requests
    assert json.loads(got["body"]) == {"action": "Create", "alert": {"message": "m"}}
    assert got["headers"]["X-Token"] == "abc"
    assert got["headers"]["Content-Type"] == "application/json"
    assert got["headers"]["Host"].startswith("127.0.0.1")


@pytest.mark.parametrize("headers", [{"X-Site": "東京"}, {"X-A": " v"}, {"X:A": "v"}])
def test_headers_that_cannot_be_sent_fail_for_good_without_sending(
    receiver: Receiver, settings: Settings, headers: dict[str, str]
) -> None:
    payload = build_payload(url=receiver.url + "/hook", body={}, headers=headers, action_id="a1")
    outcome = send_webhook(payload, settings=settings)
    assert not outcome.ok
    assert not outcome.retryable
    assert "cannot be sent" in (outcome.error or "")
    assert receiver.requests == []


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(500, True), (503, True), (429, True), (404, False), (400, False), (410, False)],
)
def test_failures_are_classified(
    receiver: Receiver, settings: Settings, status: int, retryable: bool
) -> None:
    receiver.responses["/x"] = (status, {"Retry-After": "7"})
    outcome = send_webhook(build_payload(url=receiver.url + "/x", body={}), settings=settings)
    assert not outcome.ok
    assert outcome.retryable is retryable
    assert outcome.status == status
    if retryable:
        assert outcome.retry_after == 7.0


def test_redirects_are_followed_a_bounded_number_of_times(
    receiver: Receiver, settings: Settings
) -> None:
    receiver.responses["/a"] = (307, {"Location": "/b"})
    outcome = send_webhook(build_payload(url=receiver.url + "/a", body={}), settings=settings)
    assert outcome.ok
    assert [r["path"] for r in receiver.requests] == ["/a", "/b"]

    receiver.requests.clear()
    receiver.responses["/loop"] = (302, {"Location": "/loop"})
    outcome = send_webhook(build_payload(url=receiver.url + "/loop", body={}), settings=settings)
    assert not outcome.ok
    assert not outcome.retryable
    assert "redirects" in outcome.error
    assert len(receiver.requests) == webhooks.MAX_REDIRECTS + 1


def test_connection_refused_is_retryable(settings: Settings) -> None:
    receiver = Receiver()
    url = receiver.url
    receiver.server.server_close()  # nothing listens on that port any more
    outcome = send_webhook(build_payload(url=url + "/x", body={}), settings=settings)
    assert not outcome.ok
    assert outcome.retryable
    assert "network error" in outcome.error


def test_loopback_is_refused_at_send_time_by_default(
    receiver: Receiver, settings: Settings
) -> None:
    strict = settings.with_(allow_private_outbound=False)
    outcome = send_webhook(build_payload(url=receiver.url + "/hook", body={}), settings=strict)
    assert not outcome.ok
    assert not outcome.retryable
    assert "destination refused" in outcome.error
    assert receiver.requests == []


def test_dns_rebinding_is_caught_at_connect_time(receiver: Receiver, settings: Settings) -> None:
    """The name check sees a public address, the connection lands on loopback: refused."""
    strict = settings.with_(allow_private_outbound=False)
    port = receiver.server.server_address[1]
    outcome = send_webhook(
        build_payload(url=f"http://localhost:{port}/hook", body={}),
        settings=strict,
        resolver=lambda host, p: ["93.184.216.34"],
    )
    assert not outcome.ok
    assert not outcome.retryable
    assert "destination refused" in outcome.error
    assert receiver.requests == []


def test_message_without_url_fails_permanently(settings: Settings) -> None:
    outcome = send_webhook({"body": {}}, settings=settings)
    assert not outcome.ok
    assert not outcome.retryable


class Trickler:
    """A server that answers one byte at a time, slower than nothing but faster than a timeout."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.listener = socket.create_server(("127.0.0.1", 0))
        # Before the thread starts: a test that ends at once closes the listener under it.
        self.listener.settimeout(0.1)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/hook"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed by close()
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        # The sender gives up mid-answer (that is the test): a reset is the expected end.
        with conn, contextlib.suppress(OSError):
            conn.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000:
                if self.stop.wait(self.interval):
                    return
                conn.sendall(bytes([byte]))

    def close(self) -> None:
        self.stop.set()
        self.listener.close()


def test_a_trickling_server_cannot_hold_the_sender_past_its_deadline(settings: Settings) -> None:
    # One byte every 0.3 s never trips a 10 s read timeout; only the overall deadline ends it.
    server = Trickler(interval=0.3)
    try:
        started = time.monotonic()
        outcome = send_webhook(
            build_payload(url=server.url, body={}), settings=settings, deadline=2
        )
        elapsed = time.monotonic() - started
    finally:
        server.close()
    assert elapsed < 5, elapsed
    assert not outcome.ok
    assert outcome.retryable
    assert outcome.error == "no answer within 2 s"


def test_the_deadline_also_holds_with_the_private_address_guard_on(settings: Settings) -> None:
    server = Trickler(interval=0.3)
    strict = settings.with_(allow_private_outbound=False)
    try:
        outcome = send_webhook(build_payload(url=server.url, body={}), settings=strict, deadline=2)
    finally:
        server.close()
    assert not outcome.ok
    assert not outcome.retryable  # loopback is refused before any byte is sent
