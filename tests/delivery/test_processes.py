"""Worker processes: kill -9 mid-batch loses nothing; two workers on PostgreSQL never overlap."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jira_simulator import Simulator
from provider.outbox.models import MessageStatus
from tests.conftest import TEST_SECRET_KEY
from tests.delivery.conftest import FAST
from tests.delivery.conftest import LiveApp
from tests.delivery.test_end_to_end import _bulk_insert
from tests.delivery.test_end_to_end import _enqueue_versions


def _start_worker(live: LiveApp, tmp_path: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": live.settings.database_url,
        "BASE_URL": live.settings.base_url,
        "APP_KEY": live.settings.app_key,
        "SECRET_KEY": TEST_SECRET_KEY,
        "INSTANCE_PATH": str(tmp_path),
        "LOG_LEVEL": "INFO",
    }
    argv = [sys.executable, "-m", "provider.cli", "worker", "--backoff-base", "0.05"]
    argv += ["--throttle-base", "0.1", "--idle-max", "0.1", *args]
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@contextlib.contextmanager
def _running_worker(live: LiveApp, tmp_path: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    worker = _start_worker(live, tmp_path, "--lease-seconds", "1.5", *args)
    try:
        yield worker
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)


def _slow_first_batch(live: LiveApp, sim: Simulator, messages: int, delay: float) -> dict[str, Any]:
    """Enqueue ``messages`` incidents; Jira holds the first bulk request for ``delay`` seconds.

    Returns the incidents Jira should end up with.
    """
    latest = _enqueue_versions(live, live.installation(sim, "acme"), "incident", messages, usn=1)
    sim.faults.add("delay", site="acme", delay=delay, times=1)
    return latest


def _wait_for_a_batch_in_flight(sim: Simulator) -> None:
    _wait_for(
        lambda: sim.counters()["faults_injected"].get("delay", 0) >= 1, 20, "a batch in flight"
    )


def _drain_then_stop(live: LiveApp, tmp_path: Path, *args: str) -> None:
    """A new worker delivers what is left, then stops cleanly on SIGTERM."""
    with _running_worker(live, tmp_path, *args) as worker:
        _wait_for(lambda: live.counts() == {}, 30, "the outbox to drain")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(10) == 0


def test_kill_9_mid_batch_loses_nothing_and_sigterm_stops_cleanly(
    installed: LiveApp, sim: Simulator, tmp_path: Path
) -> None:
    # The first bulk request hangs in the simulator long enough to kill the worker during it.
    latest = _slow_first_batch(installed, sim, 300, 2.0)
    with _running_worker(installed, tmp_path, "--batch-size", "100") as first:
        _wait_for_a_batch_in_flight(sim)
        assert installed.counts().get(MessageStatus.SENDING) == 100
        first.kill()  # SIGKILL: no cleanup, no chance to record anything
        first.wait(10)
    assert first.returncode == -signal.SIGKILL

    _drain_then_stop(installed, tmp_path, "--batch-size", "100")

    assert sim.state("acme")["incidents"] == latest


def test_two_workers_on_postgresql_never_send_a_message_twice(
    installed: LiveApp, sim: Simulator, databases
) -> None:  # type: ignore[no-untyped-def]
    if databases.backend != "postgresql":
        pytest.skip("several workers need FOR UPDATE SKIP LOCKED; SQLite runs one worker")
    acme = installed.installation(sim, "acme")
    globex = installed.installation(sim, "globex")
    latest = _bulk_insert(installed, acme, "incident", 800)
    latest_globex = _bulk_insert(installed, globex, "incident", 300)
    # Slow answers widen the window in which both workers hold claims at the same time; the
    # 429s check that neither worker sends to a site before its Retry-After has passed.
    sim.faults.add("delay", delay=0.05)
    sim.faults.add("429", site="acme", fraction=0.1, retry_after=1)

    from dataclasses import replace

    config = replace(FAST, batch_size=50, read_timeout=30)
    workers = [installed.worker(config, worker_id=f"w{i}") for i in range(2)]
    handled = [0, 0]
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                n = workers[index].drain_once()
                handled[index] += n
                if not n:
                    if installed.counts() == {}:
                        return
                    time.sleep(0.05)
        except BaseException as e:  # surfaced in the main thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)

    assert errors == []
    assert installed.counts() == {}
    assert all(handled), handled  # both took part
    state = sim.state("acme")
    assert state["incidents"] == latest
    assert sim.state("globex")["incidents"] == latest_globex
    # Every entity reached Jira exactly once: no batch was sent twice, concurrently or not.
    for site in ("acme", "globex"):
        history = sim.state(site)["usnHistory"]
        assert all(usns == [1] for usns in history.values())
    counters = sim.counters()
    assert counters["bulk_requests"]["incidents"] == 22, (counters["requests"], handled)
    assert counters["retry_after_violations"] == 0


def test_a_second_ctrl_c_interrupts_the_batch_and_loses_nothing(
    installed: LiveApp, sim: Simulator, tmp_path: Path
) -> None:
    # A Jira that hangs: finishing the batch would take 20 s.
    latest = _slow_first_batch(installed, sim, 50, 20.0)
    with _running_worker(installed, tmp_path) as first:
        _wait_for_a_batch_in_flight(sim)
        first.send_signal(signal.SIGINT)  # "after the current batch"
        time.sleep(0.5)
        assert first.poll() is None
        first.send_signal(signal.SIGINT)
        assert first.wait(10) == 1

    _drain_then_stop(installed, tmp_path)
    assert sim.state("acme")["incidents"] == latest


def test_under_a_supervisor_a_repeated_sigint_is_the_same_stop(
    installed: LiveApp, sim: Simulator, tmp_path: Path
) -> None:
    # systemd or a PaaS signal every process and `provider run` forwards its own copy: the
    # worker sees two SIGINTs for one stop. It finishes the batch; the supervisor kills if needed.
    latest = _slow_first_batch(installed, sim, 50, 2.0)
    with _running_worker(installed, tmp_path, "--supervised") as first:
        _wait_for_a_batch_in_flight(sim)
        first.send_signal(signal.SIGINT)
        first.send_signal(signal.SIGINT)
        assert first.wait(30) == 0
    assert sim.state("acme")["incidents"] == latest


def _catches(pid: int, signum: int) -> bool:
    """Whether process ``pid`` has a handler installed for ``signum`` (from /proc)."""
    status = Path(f"/proc/{pid}/status").read_text()
    caught = int(next(line for line in status.splitlines() if line.startswith("SigCgt:"))[7:], 16)
    return bool(caught >> (signum - 1) & 1)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_a_burst_of_stop_signals_still_ends_the_worker(installed: LiveApp, tmp_path: Path) -> None:
    # systemd and a PaaS signal every process and the supervisor forwards its own copy, so
    # SIGINTs and SIGTERMs arrive in bursts. A handler that takes a lock the interrupted main
    # thread holds (threading.Event.set does) hung the worker until it was killed.
    with _running_worker(installed, tmp_path, "--supervised", "--idle-max", "0.01") as worker:
        _wait_for(lambda: _catches(worker.pid, signal.SIGTERM), 30, "the worker's handlers")
        time.sleep(0.2)  # into the idle loop
        for i in range(400):
            worker.send_signal(signal.SIGINT if i % 2 else signal.SIGTERM)
        assert worker.wait(10) == 0
