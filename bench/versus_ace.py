"""Scenario 0: Jira's authenticated call here and on atlassian-connect-express, side by side.

Figures measured on another day or machine cannot be compared (these machines are shared), so
ACE runs in the same benchmark, on the same cores, under the same wrk: ``bench/ace/app.js`` is a
minimal ACE 11.5.3 app whose ``GET /bench`` sits behind ``addon.authenticate()`` (HS256, qsh, the
tenant looked up in ACE's default store). Here the request is ``searchContainers`` with the full
check of Jira's calls (installation, secret, signature, claims, qsh), each with its own token.

Rounds alternate (ACE, project, ACE, project …) so that a change in the machine's load hits both.
Server CPU per request is read from ``/proc/<pid>/stat`` of the server's processes before and
after each round: it is far steadier than requests per second on a shared machine.

ACE and its dependencies come from npm, at the versions of ``bench/ace/package-lock.json``, into
the git-ignored ``bench/ace/node_modules`` on first use; without node the scenario is skipped.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import statistics
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests as http

from bench import loadgen
from bench.jira_calls import search_requests
from bench.stack import Stack
from bench.stack import children
from bench.stack import cpu_seconds
from bench.stack import free_port
from bench.stack import stop_process
from provider.connect.jwt import sign_hs256

logger = logging.getLogger(__name__)

ACE_DIR = Path(__file__).resolve().parent / "ace"
ACE_VERSION = "11.5.3"
# the tenant app.js seeds into ACE's store
ACE_CLIENT_KEY = "bench-client-key"
ACE_SECRET = "bench-shared-secret-0123456789abcdef"  # noqa: S105 (the benchmark tenant's)
ROUNDS = 3


def available() -> str | None:
    """Why the comparison cannot run here, or None when it can (installing ACE if needed)."""
    if not shutil.which("node") or not shutil.which("npm"):
        return "node and npm are not installed"
    if (
        not (ACE_DIR / "node_modules" / "atlassian-connect-express").is_dir()
        or not _sqlite3_loads()
    ):
        logger.info("installing atlassian-connect-express %s from npm (once)", ACE_VERSION)
        # sqlite3 has no prebuilt binary for every platform; npm then builds it with node-gyp,
        # which finds node's headers through nodedir (Debian keeps them in /usr/include/node).
        env = dict(os.environ)
        if Path("/usr/include/node/node.h").exists():
            env.setdefault("npm_config_nodedir", "/usr")
        done = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=ACE_DIR,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            return f"npm ci failed: {done.stderr.strip()[-500:]}"
    return None


def _sqlite3_loads() -> bool:
    """Whether ACE's store driver has its native module: an install whose npm skipped sqlite3's
    build script (npm 11 runs a dependency's install script only if ``allowScripts`` in
    ``package.json`` names it) has the package without it, and ACE fails at start."""
    done = subprocess.run(
        ["node", "-e", "require('sqlite3')"], cwd=ACE_DIR, capture_output=True, check=False
    )
    return done.returncode == 0


@contextlib.contextmanager
def ace_server(workdir: Path) -> Iterator[tuple[str, subprocess.Popen[Any]]]:
    port = free_port()
    env = dict(os.environ, PORT=str(port), NODE_ENV="production")
    base = f"http://127.0.0.1:{port}"
    with open(workdir / "ace.log", "ab") as log:
        proc = subprocess.Popen(
            ["node", "app.js"],
            cwd=ACE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            process_group=0,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"ACE exited; see {workdir / 'ace.log'}")
            with contextlib.suppress(http.RequestException):
                if http.get(f"{base}/healthz", timeout=1).ok:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("ACE did not start")
            time.sleep(0.1)
        yield base, proc
    finally:
        stop_process(proc)


def _ace_request(base: str) -> loadgen.Request:
    # ACE reads one token for the whole run (its own README does the same); a minute of `exp`
    # past the run, within the lifetime ACE accepts.
    token = sign_hs256(
        iss=ACE_CLIENT_KEY, secret=ACE_SECRET, method="GET", url="/bench", lifetime=600
    )
    req = loadgen.Request("GET", "/bench", {"Authorization": f"JWT {token}"})
    for auth, expect in ((req.headers, 200), ({"Authorization": "JWT x.y.z"}, 401)):
        answer = http.get(f"{base}/bench", headers=auth, timeout=10)
        if answer.status_code != expect:
            raise RuntimeError(f"ACE answered {answer.status_code} where {expect} was expected")
    return req


def _measure(
    base: str, reqs: list[loadgen.Request], pids: list[int], seconds: float
) -> dict[str, Any]:
    before = sum(cpu_seconds(p) for p in pids)
    result = loadgen.run(base, reqs, duration=seconds, use_wrk=True)
    spent = sum(cpu_seconds(p) for p in pids) - before
    if result.errors:
        raise RuntimeError(f"{base}: {result.errors} errors of {result.requests}")
    return {
        "rps": round(result.rps, 1),
        "requests": result.requests,
        "p50_ms": round(result.p50_ms, 2),
        "p99_ms": round(result.p99_ms, 2),
        "cpu_us_per_request": round(1e6 * spent / max(1, result.requests), 1),
    }


def run(stack: Stack, workdir: Path, *, duration: float) -> dict[str, Any]:
    if loadgen.wrk_path() is None:
        return {"skipped": "wrk is not installed"}
    if (why := available()) is not None:
        logger.warning("no side-by-side with ACE: %s", why)
        return {"skipped": why}
    workspace = stack.seed_workspace("Side by side", components=0)
    ours = search_requests(stack, workspace)
    assert stack.web is not None
    our_pids = [stack.web.pid, *stack.web_worker_pids()]
    rounds = []
    with ace_server(workdir) as (ace_base, ace_proc):
        theirs = [_ace_request(ace_base)]
        # warm-up: JIT, pools and caches on both sides
        loadgen.run(ace_base, theirs, duration=2, use_wrk=True)
        loadgen.run(stack.base_url, ours, duration=2, use_wrk=True)
        for n in range(ROUNDS):
            ace = _measure(ace_base, theirs, [ace_proc.pid, *children(ace_proc.pid)], duration)
            project = _measure(stack.base_url, ours, our_pids, duration)
            ratio = round(project["rps"] / ace["rps"], 2) if ace["rps"] else 0.0
            logger.info(
                "round %d: ACE %.0f req/s %.0f µs CPU; project %.0f req/s %.0f µs CPU; ratio %.2f",
                n + 1,
                ace["rps"],
                ace["cpu_us_per_request"],
                project["rps"],
                project["cpu_us_per_request"],
                ratio,
            )
            rounds.append({"ace": ace, "project": project, "ratio": ratio})
    return {
        "ace": f"atlassian-connect-express {ACE_VERSION}, node {_node_version()}",
        "load": f"wrk -t2 -c32 -d{max(1, round(duration))}s",
        "rounds": rounds,
        "median_ratio": statistics.median(r["ratio"] for r in rounds),
        "median_cpu_ratio": statistics.median(
            r["ace"]["cpu_us_per_request"] / r["project"]["cpu_us_per_request"] for r in rounds
        ),
    }


def _node_version() -> str:
    out = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)
    return out.stdout.strip()
