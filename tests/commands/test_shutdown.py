"""Stopping gunicorn, ``provider run`` and ``provider demo``: no process left, ports free.

Each command runs as a process session of its own (free ports, SQLite under a tmp dir) with
requests in flight, slow clients among them. The ``provider run`` and ``provider demo`` rounds
send SIGINT and then SIGTERM and wait until no process of the session is left; they alternate
between signalling the command's process group (a terminal, a supervisor) and every process of
the session (systemd, a PaaS), so gunicorn's master and workers also receive both signals at once.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import time
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.commands.sessions import STALLED_HEADERS
from tests.commands.sessions import Session
from tests.commands.sessions import Traffic
from tests.commands.sessions import base_env
from tests.commands.sessions import free_port
from tests.commands.sessions import session

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")

GRACEFUL_TIMEOUT = 8.0  # gunicorn.conf.py
SIGNAL_GAP = 0.3  # between the SIGINT and the SIGTERM


def _stop_with_sigint_then_sigterm(running: Session, everyone: bool) -> float:
    send = running.signal_every_process if everyone else running.signal_group
    started = time.monotonic()
    send(signal.SIGINT)
    time.sleep(SIGNAL_GAP)
    send(signal.SIGTERM)
    return running.wait_gone(started)


@contextlib.contextmanager
def _web(tmp_path: Path, name: str = "web", **extra: str) -> Iterator[tuple[Session, int]]:
    """gunicorn as ``provider web`` starts it, serving on a free port."""
    port = free_port()
    env = {**base_env(tmp_path, port), "HOST": "127.0.0.1", **extra}
    with session(["web", "--workers", "2"], env, tmp_path / f"{name}.log", [port]) as web:
        web.wait_until_serving(port)
        yield web, port


def test_gunicorn_ends_at_once_on_sigint_and_sigterm_to_master_and_workers(
    tmp_path: Path,
) -> None:
    """The review's hang: both signals reach every process; slow clients hold worker threads."""
    with _web(tmp_path) as (web, port):
        with Traffic(port, slow_clients=8):
            time.sleep(0.5)  # the slow clients' bytes reach the worker threads
            elapsed = _stop_with_sigint_then_sigterm(web, everyone=True)
        web.assert_ports_free()
    # Well under graceful_timeout: no process waited for the master's SIGKILL.
    assert elapsed < GRACEFUL_TIMEOUT - 2, f"{elapsed:.1f} s"


def test_sigterm_finishes_requests_in_flight_and_orphaned_workers_still_end(
    tmp_path: Path,
) -> None:
    with _web(tmp_path) as (web, port):
        with Traffic(port) as traffic:
            in_flight = traffic.open(STALLED_HEADERS)
            time.sleep(0.5)
            started = time.monotonic()
            web.signal_group(signal.SIGTERM)
            time.sleep(0.5)
            # A supervisor that gives up on the master: its workers must not live on, orphaned.
            web.proc.kill()
            in_flight.sendall(b"1\r\n\r\n")
            answer = in_flight.recv(1024)
            elapsed = web.wait_gone(started)
        web.assert_ports_free()
    assert answer.startswith(b"HTTP/1.1 200 "), answer
    # The stalled clients kept their connections open: the workers left after the graceful timeout.
    assert GRACEFUL_TIMEOUT - 1 < elapsed < GRACEFUL_TIMEOUT + 5, f"{elapsed:.1f} s"


def test_two_gunicorn_instances_do_not_share_a_control_socket(tmp_path: Path) -> None:
    own = tmp_path / "b.ctl"
    (tmp_path / "runtime").mkdir()
    shared = {"XDG_RUNTIME_DIR": str(tmp_path / "runtime")}
    with (
        _web(tmp_path, "a", **shared) as (a, _),
        _web(tmp_path, "b", **shared, GUNICORN_CONTROL_SOCKET=str(own)) as (b, _),
    ):
        deadline = time.monotonic() + 30  # the master opens it once its workers are forked
        while not own.is_socket() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert own.is_socket(), b.output()
        a.signal_group(signal.SIGTERM)
        a.wait_gone(time.monotonic())
        assert own.is_socket(), "stopping one instance removed the other's control socket"
        b.signal_group(signal.SIGTERM)
        b.wait_gone(time.monotonic())
    defaults = [tmp_path / "runtime" / "gunicorn.ctl", tmp_path / ".gunicorn" / "gunicorn.ctl"]
    assert not any(path.exists() for path in defaults)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run"], "stop it or set PORT=… to a free port"),
        (["web"], "stop it or set PORT to a free port"),
        (["demo", "--port", "{port}", "--instance", "{tmp}"], "or use --free-ports"),
        (
            ["demo", "--port", "{other}", "--sim-port", "{port}", "--instance", "{tmp}"],
            "--sim-port",
        ),
    ],
    ids=["run", "web", "demo", "demo-simulator"],
)
def test_a_taken_port_is_named_with_what_to_do(
    tmp_path: Path, argv: list[str], message: str
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        other = free_port()
        argv = [a.format(port=port, other=other, tmp=tmp_path) for a in argv]
        env = {**base_env(tmp_path, port), "HOST": "127.0.0.1"}
        with session(argv, env, tmp_path / "out.log", []) as command:
            command.proc.wait(60)
    assert command.proc.returncode == 1, command.output()
    assert f"port {port} on 127.0.0.1 is in use by another process" in command.output()
    assert message in command.output()
    assert "Traceback" not in command.output()


def test_a_second_ctrl_c_kills_at_once(tmp_path: Path) -> None:
    port = free_port()
    with session(["run"], base_env(tmp_path, port), tmp_path / "run.log", [port]) as running:
        running.wait_until_serving(port)
        with Traffic(port):
            time.sleep(0.5)
            started = time.monotonic()
            running.signal_group(signal.SIGTERM)  # graceful: the slow clients hold gunicorn
            time.sleep(1)
            running.signal_group(signal.SIGINT)
            elapsed = running.wait_gone(started)
        running.assert_ports_free()
    assert running.proc.returncode == 3, running.output()
    assert "killed web" in running.output()
    assert elapsed < GRACEFUL_TIMEOUT - 2, f"{elapsed:.1f} s"


def _run_round(tmp_path: Path, everyone: bool) -> float:
    port = free_port()
    env = base_env(tmp_path, port)
    with session(["run"], env, tmp_path / "run.log", [port]) as running:
        running.wait_until_serving(port)
        with Traffic(port):
            elapsed = _stop_with_sigint_then_sigterm(running, everyone)
        assert running.proc.returncode == 0, running.output()
        running.assert_ports_free()
    return elapsed


def _demo_round(tmp_path: Path, everyone: bool) -> float:
    app, sim = free_port(), free_port()
    env = base_env(tmp_path, app)
    argv = ["demo", "--port", str(app), "--sim-port", str(sim), "--instance", str(tmp_path)]
    with session(argv, env, tmp_path / "demo.log", [app, sim]) as running:
        running.wait_until_serving(app)
        running.wait_until_serving(sim, "/_sim/state")
        # Half the rounds stop the demo while it is still setting up, half once it runs.
        if not everyone:
            running.wait_for_output("Press Ctrl-C")
        with Traffic(app), Traffic(sim, slow_clients=2):
            elapsed = _stop_with_sigint_then_sigterm(running, everyone)
        assert running.proc.returncode == 0, running.output()
        running.assert_ports_free()
    return elapsed


def _rounds(tmp_path: Path, rounds: int, one_round: Callable[[Path, bool], float]) -> None:
    took = []
    for i in range(rounds):
        directory = tmp_path / f"round-{i}"
        directory.mkdir()
        took.append(one_round(directory, i % 2 == 1))
    print(f"stopped in {', '.join(f'{t:.1f}' for t in took)} s; max {max(took):.1f} s")


@pytest.mark.parametrize("rounds", [2, pytest.param(10, marks=pytest.mark.slow)])
def test_provider_run_stops_within_the_bound(tmp_path: Path, rounds: int) -> None:
    _rounds(tmp_path, rounds, _run_round)


@pytest.mark.parametrize("rounds", [2, pytest.param(10, marks=pytest.mark.slow)])
def test_provider_demo_stops_within_the_bound(tmp_path: Path, rounds: int) -> None:
    _rounds(tmp_path, rounds, _demo_round)
