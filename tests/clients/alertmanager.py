"""A real Prometheus Alertmanager on loopback, configured per test, and alerts pushed into it."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stamp(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Alertmanager:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def push(self, *alerts: dict[str, Any]) -> None:
        """Send alerts as Prometheus does (``POST /api/v2/alerts``)."""
        response = requests.post(f"{self.url}/api/v2/alerts", json=list(alerts), timeout=5)
        response.raise_for_status()

    def metric(self, name: str, **labels: str) -> float:
        """The sum of a counter of Alertmanager's own ``/metrics`` over the given labels."""
        total = 0.0
        text = requests.get(f"{self.url}/metrics", timeout=5).text
        for line in text.splitlines():
            if not line.startswith(name + "{"):
                continue
            if all(f'{k}="{v}"' in line for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def start(config: str, workdir: Path) -> Alertmanager:
    """Start Alertmanager with ``config`` (YAML) on a free loopback port, without clustering."""
    assert BINARY is not None
    (workdir / "alertmanager.yml").write_text(config)
    port = free_port()
    log = workdir / "alertmanager.log"
    process = subprocess.Popen(
        [
            BINARY,
            f"--config.file={workdir / 'alertmanager.yml'}",
            f"--storage.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=debug",
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    manager = Alertmanager(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"alertmanager exited: {log.read_text()}")
        try:
            if requests.get(f"{manager.url}/-/ready", timeout=1).ok:
                return manager
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    manager.stop()
    raise RuntimeError(f"alertmanager did not become ready: {log.read_text()}")
