"""The web process's gunicorn worker (provider.webserver.ThreadWorker) as clients meet it:
keep-alive, pipelining, bodies left unread, every shape of answer, more connections than threads.
Its bounded shutdown is in tests/commands/test_shutdown.py."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = int(probe.getsockname()[1])
    log = tmp_path_factory.mktemp("webserver") / "gunicorn.log"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOST": "127.0.0.1",
        "PORT": str(free),
        "WEB_CONCURRENCY": "1",
        "WEB_THREADS": "2",
    }
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "gunicorn.conf.py",
                "tests.webserver_app:make_app()",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                socket.create_connection(("127.0.0.1", free), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.05)
        yield free
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _connection(port: int) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", port, timeout=10)


def test_one_connection_serves_requests_one_after_another(port: int) -> None:
    conn = _connection(port)
    for n in range(20):
        conn.request("GET", f"/n{n}")
        answer = conn.getresponse()
        assert (answer.status, answer.read()) == (200, f"hello /n{n}".encode())
        assert answer.getheader("Connection") == "keep-alive"
        assert answer.getheader("Date")
        sock = conn.sock
    assert conn.sock is sock  # still the first connection
    conn.close()


def test_answers_of_every_shape_keep_the_connection_usable(port: int) -> None:
    conn = _connection(port)
    for _ in range(2):
        conn.request("GET", "/stream")
        answer = conn.getresponse()
        assert answer.getheader("Transfer-Encoding") == "chunked"
        assert answer.read() == b"one,two,three"
        conn.request("GET", "/pieces")
        assert conn.getresponse().read() == b"abcdef"
        conn.request("GET", "/empty")
        answer = conn.getresponse()
        assert (answer.status, answer.read()) == (204, b"")
        conn.request("HEAD", "/head")
        answer = conn.getresponse()
        assert (answer.status, answer.getheader("Content-Length"), answer.read()) == (
            200,
            str(len(b"hello /head")),
            b"",
        )
        conn.request("POST", "/unread", body=b"x" * 10_000)  # the app never reads it
        assert conn.getresponse().read() == b"hello /unread"
    conn.close()


def test_pipelined_requests_are_all_answered_in_order(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"".join(f"GET /p{n} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for n in range(5))
            + b"POST /p5 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
            + b"GET /p6 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    bodies = [part.split(b"\r\n\r\n", 1)[1] for part in received.split(b"HTTP/1.1 ")[1:]]
    assert bodies == [f"hello /p{n}".encode() for n in range(7)]


def test_more_kept_alive_connections_than_threads_are_all_served(port: int) -> None:
    conns = [_connection(port) for _ in range(8)]  # the worker has two threads
    for round_ in range(5):
        for n, conn in enumerate(conns):
            conn.request("GET", f"/c{n}-{round_}")
        for n, conn in enumerate(conns):
            assert conn.getresponse().read() == f"hello /c{n}-{round_}".encode()
    for conn in conns:
        conn.close()


def test_a_connection_the_client_closes_is_let_go(port: int) -> None:
    for _ in range(20):
        conn = _connection(port)
        conn.request("GET", "/bye")
        assert conn.getresponse().read() == b"hello /bye"
        conn.close()
    conn = _connection(port)
    conn.request("GET", "/still")
    assert conn.getresponse().read() == b"hello /still"
    conn.close()
