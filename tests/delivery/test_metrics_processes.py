"""``provider run``'s processes count into one directory: /metrics sums them, whoever answers."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
from prometheus_client import CollectorRegistry
from prometheus_client import multiprocess
from prometheus_client.parser import text_string_to_metric_families

from bench.stack import free_port
from jira_simulator import Simulator
from tests.conftest import TEST_SECRET_KEY
from tests.delivery.conftest import LiveApp
from tests.delivery.test_end_to_end import _enqueue_versions

TOKEN = "scrape-token-0123456789abcdef"


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _per_process(directory: Path, scratch: Path) -> dict[int, dict]:
    """Each process's own counters: its files alone, read the way a scrape reads them all."""
    pids = {int(p.stem.rsplit("_", 1)[1]) for p in directory.glob("*.db")}
    out = {}
    for pid in pids:
        alone = scratch / str(pid)
        alone.mkdir(parents=True)
        for path in directory.glob(f"*_{pid}.db"):
            shutil.copy(path, alone / path.name)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(alone))
        out[pid] = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in registry.collect()
            for s in family.samples
        }
    return out


def test_metrics_from_two_web_workers_and_the_worker_are_summed(
    installed: LiveApp, sim: Simulator, tmp_path: Path
) -> None:
    inst = installed.installation(sim, "acme")
    _enqueue_versions(installed, inst, "incident", 5, usn=1)
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": installed.settings.database_url,
        "BASE_URL": installed.url,
        "APP_KEY": installed.settings.app_key,
        "SECRET_KEY": TEST_SECRET_KEY,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "INSTALL_KEYS_URL": sim.keys_url,
        "ALLOWED_JIRA_HOSTS": "127.0.0.1",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "METRICS_TOKEN": TOKEN,
        "LOG_LEVEL": "WARNING",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = (tmp_path / "run.log").open("wb")
    run = subprocess.Popen(
        [sys.executable, "-m", "provider.cli", "run"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        process_group=0,
    )
    url = f"http://127.0.0.1:{port}"
    healthz = 0
    try:
        deadline = time.monotonic() + 60
        # Readiness on another route, so that every /healthz below is counted exactly once.
        while True:
            try:
                if requests.get(f"{url}/readyz", timeout=5).ok:
                    break
            except requests.RequestException:
                pass
            assert run.poll() is None, (tmp_path / "run.log").read_text()
            assert time.monotonic() < deadline, "provider run did not start"
            time.sleep(0.2)
        while installed.counts() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert installed.counts() == {}
        # New connections each: the kernel spreads them over both web workers (reuse_port).
        for _ in range(40):
            assert requests.get(f"{url}/healthz", timeout=5).status_code == 200
            healthz += 1

        for _ in range(3):  # whichever worker answers, the same sums
            text = requests.get(
                f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
            ).text
            samples = _samples(text)
            ok = _value(samples, "provider_http_requests_total", endpoint="healthz", status="200")
            assert ok == healthz
            delivered = _value(
                samples, "provider_outbox_delivered_total", kind="incident", outcome="accepted"
            )
            assert delivered == 5
            assert (
                _value(
                    samples,
                    "provider_jira_requests_total",
                    endpoint="POST /rest/operations/1.0/bulk",
                    outcome="2xx",
                )
                >= 1
            )
        assert requests.get(f"{url}/metrics", timeout=5).status_code == 401

        directory = tmp_path / "instance" / "metrics"
        per_process = _per_process(directory, tmp_path / "split")
        answered = {
            pid: _value(s, "provider_http_requests_total", endpoint="healthz", status="200")
            for pid, s in per_process.items()
        }
        web = [pid for pid, n in answered.items() if n > 0]
        assert len(web) == 2, answered
        assert sum(answered.values()) == healthz
        sent = [
            pid
            for pid, s in per_process.items()
            if _value(s, "provider_outbox_delivered_total", kind="incident", outcome="accepted")
        ]
        assert len(sent) == 1
        assert sent[0] not in web
    finally:
        run.send_signal(signal.SIGTERM)
        run.wait(30)
        log.close()
