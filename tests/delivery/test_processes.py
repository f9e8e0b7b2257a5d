"""Worker processes: kill -9 mid-batch loses nothing; two workers on PostgreSQL never overlap."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

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


def test_kill_9_mid_batch_loses_nothing_and_sigterm_stops_cleanly(
    installed: LiveApp, sim: Simulator, tmp_path: Path
) -> None:
    acme = installed.installation(sim, "acme")
    latest = _enqueue_versions(installed, acme, "incident", 300, usn=1)
    # The first bulk request hangs in the simulator long enough to kill the worker during it.
    sim.faults.add("delay", site="acme", delay=2.0, times=1)

    first = _start_worker(installed, tmp_path, "--lease-seconds", "1.5", "--batch-size", "100")
    try:
        _wait_for(
            lambda: sim.counters()["faults_injected"].get("delay", 0) >= 1, 20, "a batch in flight"
        )
        assert installed.counts().get(MessageStatus.SENDING) == 100
    finally:
        first.kill()  # SIGKILL: no cleanup, no chance to record anything
        first.wait(10)
    assert first.returncode == -signal.SIGKILL

    second = _start_worker(installed, tmp_path, "--lease-seconds", "1.5", "--batch-size", "100")
    try:
        _wait_for(lambda: installed.counts() == {}, 30, "the outbox to drain")
        second.send_signal(signal.SIGTERM)
        assert second.wait(10) == 0
    finally:
        if second.poll() is None:
            second.kill()
            second.wait(10)

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
