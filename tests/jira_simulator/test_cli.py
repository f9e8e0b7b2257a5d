"""``provider jira-sim`` runs the simulator as a process of its own."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import requests

from tests.jira_simulator.helpers import RecordingApp
from tests.jira_simulator.helpers import ServerThread


def test_cli_serves_and_installs_over_http(recording: RecordingApp) -> None:
    with ServerThread(recording.wsgi()) as app_server:
        proc = subprocess.Popen(
            [sys.executable, "-m", "provider.cli", "jira-sim", "--port", "0", "--site", "acme"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            found = re.search(r"on (http://127\.0\.0\.1:\d+)", first)
            assert found, first
            url = found.group(1)

            installed = requests.post(
                f"{url}/_sim/sites/acme/install",
                json={"descriptorUrl": f"{app_server.url}/atlassian-connect.json"},
                timeout=10,
            )
            missing = requests.post(f"{url}/_sim/sites/acme/install", json={}, timeout=5)
            state = requests.get(f"{url}/_sim/state/acme", timeout=5).json()
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(10)

    assert installed.status_code == 200
    assert installed.json()["responses"] == {"installed": 204, "enabled": 204}
    assert missing.status_code == 400
    assert state["state"] == "enabled"
    assert [c.path for c in recording.calls] == ["/installed", "/enabled"]
