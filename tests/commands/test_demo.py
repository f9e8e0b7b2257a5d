"""``provider demo`` in a subprocess: incidents reach the simulator; the admin page works; Ctrl-C stops."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest


def _lines(stream: Any, out: queue.Queue[str]) -> None:
    for line in stream:
        out.put(line)


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


@pytest.mark.slow
def test_demo_shows_incidents_in_the_simulator_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "LOG_LEVEL": "WARNING", "HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "provider.cli", "demo", "--free-ports", "--instance", str(tmp_path)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True).start()
    seen: list[str] = []
    sim_url = admin_url = key = app_url = None
    component_count = 0
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                continue
            seen.append(line)
            if m := re.search(r"What Jira holds .*:\s+(http://\S+)/$", line.rstrip()):
                sim_url = m.group(1)
            if m := re.search(r"admin page, framed .*:\s+(http://\S+)$", line.rstrip()):
                admin_url = m.group(1)
            if m := re.search(r"^\s+(\d+) components: ", line):
                component_count = int(m.group(1))
            if m := re.search(r"^\s+export KEY=(\S+)$", line.rstrip()):
                key = m.group(1)
            if m := re.search(r"start page .*:\s+(http://\S+)/$", line.rstrip()):
                app_url = m.group(1)
            if "Press Ctrl-C" in line:
                break
        assert sim_url, "".join(seen)
        assert admin_url == f"{sim_url}/_sim/sites/acme/admin"
        state = _get(f"{sim_url}/_sim/state/acme")
        summaries = sorted(i["summary"] for i in state["incidents"].values())
        assert len(summaries) == 2
        assert summaries[0].startswith("checkout-api")
        assert {c["name"] for c in state["components"].values()} >= {"checkout-api", "payments"}
        assert "Demo Shop" not in state["linkedWorkspaces"]  # ids, not names
        assert len(state["linkedWorkspaces"]) == 1
        # The count the demo prints is what Jira shows: the fallback component included.
        assert component_count == len(state["components"]) == 4
        # The key it prints is the workspace's: the API (and the pages' sign-in) take it.
        request = urllib.request.Request(
            f"{app_url}/v1/incidents", headers={"Authorization": f"GenieKey {key}"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert len(json.loads(response.read())["values"]) == 2
        for incident in state["incidents"].values():
            assert f"    {incident['url']}\n" in seen
        # The simulator frames the admin page with a page JWT the app accepts.
        with urllib.request.urlopen(admin_url, timeout=5) as response:
            html = response.read().decode()
        src = re.search(r'src="([^"]+)"', html).group(1).replace("&amp;", "&")
        with urllib.request.urlopen(src, timeout=5) as response:
            assert response.status == 200
            assert (
                "frame-ancestors 'self' " + sim_url in response.headers["Content-Security-Policy"]
            )
            assert f"{sim_url}/_sim/all.js" in response.read().decode()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        code = proc.wait(30)
        proc.stdout.close()
    assert code == 0, "".join(seen)
    assert (tmp_path / "demo.sqlite3").exists()


@pytest.mark.slow
def test_demo_installs_the_forge_way_and_delivers_with_the_forge_token(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "LOG_LEVEL": "WARNING", "HOME": str(tmp_path)}
    args = ["demo", "--forge", "--free-ports", "--exit-after-setup", "--instance", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, "-m", "provider.cli", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the Forge way" in done.stdout
    assert done.stdout.count("accepted") == 4, done.stdout
    assert "pushes go with the Forge token" in done.stdout
    assert "Jira holds 2 incidents" in done.stdout
