"""Commands started as real process sessions, with traffic in flight, and stopped by signals.

A command runs in a session of its own (``start_new_session``), so every process it starts
keeps that session id, even a grandchild orphaned to init: "every process is gone" is checked
over the whole session, not over the children the command still knows.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

from bench.stack import processes
from provider.webserver import port_in_use

# The acceptance bound: from the first signal until no process of the session is left.
STOP_BOUND = 15.0
START_TIMEOUT = 90.0  # generous: colleagues' test runs share the two cores

# A client that sent part of its request and went quiet: a gthread worker thread reads it,
# without a timeout, until the client goes away.
STALLED_HEADERS = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
STALLED_BODY = (
    b"POST /v1/alerts HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Content-Length: 4096\r\n\r\n{"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def base_env(tmp_path: Path, port: int) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        # gunicorn's default control socket lives under HOME: keep any instance off the real one.
        "HOME": str(tmp_path),
        "PORT": str(port),
        "BASE_URL": f"http://127.0.0.1:{port}",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'provider.sqlite3'}",
        "INSTANCE_PATH": str(tmp_path),
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }


def session_pids(sid: int) -> list[int]:
    """The live (not zombie) processes of session ``sid``."""
    return processes(lambda fields: fields[0] != "Z" and int(fields[3]) == sid)


@dataclass
class Session:
    """A command running as a session of its own; its output goes to ``log``."""

    proc: subprocess.Popen[bytes]
    log: Path
    ports: list[int]

    @property
    def sid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_until_serving(self, port: int, path: str = "/healthz") -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output()
            with (
                contextlib.suppress(OSError, http.client.HTTPException),
                urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2),
            ):
                return
            time.sleep(0.1)
        raise AssertionError(f"nothing answered on port {port}:\n{self.output()}")

    def wait_for_output(self, text: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while text not in self.output():
            assert self.proc.poll() is None, self.output()
            assert time.monotonic() < deadline, self.output()
            time.sleep(0.1)

    def signal_group(self, signum: int) -> None:
        """As a terminal's Ctrl-C, ``kill -- -PGID`` or a process supervisor does."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.sid, signum)

    def signal_every_process(self, signum: int) -> None:
        """As systemd (KillMode=control-group) and a PaaS's dyno manager do, in no set order:
        here the command itself last."""
        for pid in sorted(session_pids(self.sid), key=lambda pid: pid == self.sid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def wait_gone(self, since: float, bound: float = STOP_BOUND) -> float:
        """Seconds from ``since`` until no process of the session is left (at most ``bound``)."""
        while session_pids(self.sid):
            elapsed = time.monotonic() - since
            assert elapsed < bound, self._leftovers(elapsed)
            time.sleep(0.05)
        self.proc.wait(5)
        return time.monotonic() - since

    def assert_ports_free(self) -> None:
        for port in self.ports:
            assert port_in_use("127.0.0.1", port) is None, f"port {port} still taken"

    def kill(self) -> None:
        """Clean up after a failed test: nothing of ours may outlive it."""
        for pid in session_pids(self.sid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)

    def _leftovers(self, elapsed: float) -> str:
        lines = [f"still running {elapsed:.1f} s after the signal:"]
        for pid in session_pids(self.sid):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/cmdline", "rb") as f:
                command = f.read().replace(b"\0", b" ").decode()
                lines.append(f"  {pid} {command[:160]}")
        return "\n".join([*lines, self.output()[-4000:]])


@contextlib.contextmanager
def session(argv: list[str], env: dict[str, str], log: Path, ports: list[int]) -> Iterator[Session]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "provider.cli", *argv],
            env=env,
            cwd=log.parent,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = Session(proc, log, ports)
    try:
        yield running
    finally:
        running.kill()


@dataclass
class Traffic:
    """Requests in flight on ``port``: slow clients holding connections, and a steady stream."""

    port: int
    slow_clients: int = 4
    sockets: list[socket.socket] = field(default_factory=list)
    answered: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Traffic:
        for i in range(self.slow_clients):
            self.open(STALLED_BODY if i % 2 else STALLED_HEADERS)
        self.open(b"")  # connected, silent
        self._thread = threading.Thread(target=self._requests, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        for sock in self.sockets:
            sock.close()

    def open(self, sent: bytes) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        if sent:
            sock.sendall(sent)
        self.sockets.append(sock)
        return sock

    def _requests(self) -> None:
        url = f"http://127.0.0.1:{self.port}/healthz"
        while not self._stop.is_set():
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    response.read()
                self.answered += 1
            except (OSError, http.client.HTTPException):
                # Stopping: refused, reset, or cut off mid-answer by a quick shutdown.
                time.sleep(0.05)
