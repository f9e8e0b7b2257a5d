"""Soak, database outage and the bulk-request floor, with real gunicorn, workers and simulator.

* The soak mixes ingestion, Jira's calls and component changes (delivery) for a bounded time
  (``RELIABILITY_SECONDS``, 60 by default) while the simulator answers with 429s, 503s, 500s,
  slow answers and dropped connections and a worker is killed with ``kill -9`` and restarted;
  then the simulator must hold exactly the latest version of every component.
* The outage stops PostgreSQL for a few seconds under load; afterwards every alert the API
  accepted (202) is processed and every change is delivered.
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func
from sqlalchemy import select

from bench.delivery import bulk_requests
from bench.delivery import enqueue_backlog
from bench.delivery import wait_held
from bench.jira_calls import search_requests
from bench.jira_calls import signed
from bench.stack import Stack
from provider.ops.alerts.models import AlertRequest
from provider.ops.alerts.models import RequestState
from provider.ops.components.models import Component
from provider.outbox.models import MessageStatus
from provider.outbox.models import OutboxMessage
from tests.databases import Databases
from tests.reliability.conftest import env_int
from tests.reliability.conftest import summary

# Short leases and backoffs: a killed worker's batch is taken over within seconds.
WORKER_ARGS = (
    "--lease-seconds", "4", "--backoff-base", "0.2", "--backoff-max", "2",
    "--throttle-base", "0.3", "--throttle-max", "3", "--read-timeout", "3",
    "--connect-timeout", "2", "--max-attempts", "10000", "--idle-max", "0.2",
)  # fmt: skip


@pytest.fixture
def stack(databases: Databases, tmp_path: Path) -> Any:
    with Stack(databases.backend, tmp_path, database_url=databases.create(), web_workers=2) as s:
        yield s


def test_delivery_needs_exactly_one_bulk_request_per_thousand(stack: Stack) -> None:
    incidents, components = 2_500, 1_200
    stack.start_worker(*WORKER_ARGS)
    before = bulk_requests(stack)
    enqueue_backlog(stack, incidents=incidents, components=components)
    wait_held(stack, {"incident": incidents, "component": components}, timeout=300)
    after = bulk_requests(stack)
    sent = {kind: after[kind] - before[kind] for kind in after}
    summary("bulk-floor", entities=incidents + components, bulk_requests=sent)
    assert sent == {
        "incident": math.ceil(incidents / 1000),
        "component": math.ceil(components / 1000),
    }


# ── load ───────────────────────────────────────────────────────────────────────────────────────


class Load:
    """Background traffic: alerts, Jira's calls and component changes, counted by outcome."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.workspace = stack.seed_workspace("Soak", components=200)
        self.key = {"Authorization": f"GenieKey {self.workspace.api_key}"}
        self.stop = threading.Event()
        self.statuses: Counter[str] = Counter()
        self.accepted_ids: list[str] = []
        self.component_ids: list[str] = []
        self.unexpected: list[str] = []
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []

    def _record(self, what: str, answer: requests.Response | None, ok: set[int]) -> None:
        status = answer.status_code if answer is not None else 0
        with self.lock:
            self.statuses[f"{what} {status or 'no answer'}"] += 1
            if answer is not None and status not in ok and not self.tolerate_errors:
                self.unexpected.append(f"{what}: {status} {answer.text[:200]}")

    tolerate_errors = False

    def _loop(self, body: Callable[[requests.Session, int], None]) -> None:
        session = requests.Session()
        n = 0
        while not self.stop.is_set():
            n += 1
            try:
                body(session, n)
            except requests.RequestException:
                with self.lock:
                    self.statuses["connection error"] += 1
                time.sleep(0.2)

    def alerts(self, session: requests.Session, n: int) -> None:
        # every fifth alert repeats an alias (de-duplication); every seventh is closed again
        alias = f"soak-{(n % 5 == 0 and n // 5) or n}-{threading.get_ident() % 1000}"
        body: dict[str, Any] = {"message": f"latency high {n}", "alias": alias, "priority": "P3"}
        answer = session.post(
            f"{self.stack.base_url}/v1/alerts", json=body, headers=self.key, timeout=30
        )
        self._record("alert", answer, {202})
        if answer.status_code == 202:
            with self.lock:
                self.accepted_ids.append(answer.json()["requestId"])
        if n % 7 == 0:
            closed = session.post(
                f"{self.stack.base_url}/v1/alerts/{alias}/close?identifierType=alias",
                json={"note": "recovered"},
                headers=self.key,
                timeout=30,
            )
            self._record("close", closed, {202})
            if closed.status_code == 202:
                with self.lock:
                    self.accepted_ids.append(closed.json()["requestId"])

    def jira(self, session: requests.Session, n: int) -> None:
        reqs = self._jira_requests
        r = reqs[n % len(reqs)]
        answer = session.request(
            r.method, self.stack.base_url + r.target, headers=r.headers, data=r.body, timeout=30
        )
        self._record("jira", answer, {200})

    def components(self, session: requests.Session, n: int) -> None:
        if n % 10 == 1 or not self.component_ids:
            answer = session.post(
                f"{self.stack.base_url}/v1/components",
                json={"name": f"soak-{n}-{threading.get_ident() % 1000}"},
                headers=self.key,
                timeout=30,
            )
            self._record("component create", answer, {201})
            if answer.status_code == 201:
                with self.lock:
                    self.component_ids.append(answer.json()["id"])
            return
        with self.lock:
            target = self.component_ids[n % len(self.component_ids)]
        answer = session.patch(
            f"{self.stack.base_url}/v1/components/{target}",
            json={"description": f"revision {n}"},
            headers=self.key,
            timeout=30,
        )
        self._record("component update", answer, {200})

    def start(self) -> None:
        fetch = signed(self.stack, "POST", "/workspaces/list", {"ids": [self.workspace.public_id]})
        self._jira_requests = [*search_requests(self.stack, self.workspace)[:20], fetch]
        for body in (self.alerts, self.alerts, self.jira, self.components):
            t = threading.Thread(target=self._loop, args=(body,), daemon=True)
            t.start()
            self.threads.append(t)

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(60)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())


def wait_settled(stack: Stack, accepted_ids: list[str], timeout: float) -> None:
    """Until every accepted alert request is processed and nothing waits in the outbox."""
    deadline = time.monotonic() + timeout
    while True:
        with stack.db.sessions() as session:
            processed = set(
                session.scalars(
                    select(AlertRequest.public_id).where(
                        AlertRequest.state == RequestState.PROCESSED
                    )
                )
            )
            waiting = session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status.in_([MessageStatus.PENDING, MessageStatus.SENDING]))
            )
        missing = [i for i in accepted_ids if i not in processed]
        if not missing and not waiting:
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"not settled: {len(missing)} accepted alert requests unprocessed "
                f"(e.g. {missing[:3]}), {waiting} outbox messages waiting"
            )
        time.sleep(0.2)


def assert_latest_versions(stack: Stack, workspace_id: int) -> int:
    """The simulator holds every published component, each at exactly its latest version.

    The components seeded straight into the tables (sequence number 1, and the workspace's
    fallback, numbered when it was created before the seed linked the workspace by hand) were
    never published.
    """
    with stack.db.sessions() as session:
        rows = session.execute(
            select(
                Component.public_id, Component.update_sequence_number, Component.description
            ).where(
                Component.workspace_id == workspace_id,
                Component.update_sequence_number > 1,
                Component.is_fallback.is_(False),
            )
        ).all()
    site = stack.sim.site(stack.site)
    with stack.sim.world.lock:
        held = {k: e.payload for k, e in site.entities.get("devopsComponents", {}).items()}
    wrong = []
    for public_id, usn, description in rows:
        entity = held.get(public_id)
        if entity is None or entity["updateSequenceNumber"] != usn:
            wrong.append((public_id, usn, entity and entity["updateSequenceNumber"]))
        elif entity["description"] != (description or entity["name"]):
            wrong.append((public_id, description, entity["description"]))
    assert not wrong, wrong[:10]
    assert rows
    return len(rows)


# ── soak ───────────────────────────────────────────────────────────────────────────────────────


def test_soak_with_faults_and_killed_workers(stack: Stack) -> None:
    seconds = env_int("RELIABILITY_SECONDS", 60)
    faults = stack.sim.faults
    for kind, kw in (
        ("429", {"retry_after": 1, "fraction": 0.2}),
        ("503", {"fraction": 0.1}),
        ("500", {"fraction": 0.1}),
        ("delay", {"delay": 1.0, "fraction": 0.1}),
        ("drop", {"fraction": 0.1}),
    ):
        faults.add(kind, site=stack.site, **kw)
    # and a few certain ones, so that even a run with few bulk requests meets each kind
    for kind, kw in (("drop", {}), ("429", {"retry_after": 1}), ("500", {}), ("503", {})):
        faults.add(kind, site=stack.site, times=1, **kw)
    worker = stack.start_worker(*WORKER_ARGS)
    stack.start_worker(*WORKER_ARGS) if stack.backend == "postgresql" else None
    load = Load(stack)
    load.start()
    kills = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(min(7.0, max(0.0, deadline - time.monotonic())))
        if time.monotonic() >= deadline:
            break
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
        kills += 1
        stack.workers.remove(worker)
        worker = stack.start_worker(*WORKER_ARGS)
    load.finish()
    # the backlog left by the load drains with the faults still on
    wait_settled(stack, load.accepted_ids, timeout=240)
    fired: Counter[str] = Counter()
    for fault in faults.list():
        fired[fault.kind] += fault.fired
    faults.clear()
    entities = assert_latest_versions(stack, load.workspace.id)
    counters = stack.sim.counters()
    injected = sum(fired.values())
    to_jira = sum(sum(by_status.values()) for by_status in counters["requests"].values())
    summary(
        "soak",
        seconds=seconds,
        requests=load.requests,
        alerts_accepted=len(load.accepted_ids),
        components_checked=entities,
        faults=injected,
        faults_by_kind=dict(fired),
        requests_to_jira=to_jira,
        worker_kills=kills,
        retry_after_violations=counters["retry_after_violations"],
    )
    assert not load.unexpected, load.unexpected[:10]
    assert kills >= 1
    assert injected > 0
    assert counters["retry_after_violations"] == 0


# ── database outage ────────────────────────────────────────────────────────────────────────────


def _pg_ctl(action: str) -> None:
    versions = sorted(os.listdir("/etc/postgresql"))
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", action],
        check=True,
        capture_output=True,
        timeout=60,
    )


def _outage_skip_reason(stack: Stack) -> str | None:
    if stack.backend != "postgresql":
        return "the outage test stops PostgreSQL; this run uses SQLite"
    if os.geteuid() != 0:
        return "stopping PostgreSQL needs root"
    if not shutil.which("pg_ctlcluster") or not os.path.isdir("/etc/postgresql"):
        return "pg_ctlcluster is not available to stop and start PostgreSQL"
    return None


def test_database_outage_under_load_loses_nothing(stack: Stack) -> None:
    reason = _outage_skip_reason(stack)
    if reason:
        pytest.skip(reason)
    stack.start_worker(*WORKER_ARGS)
    load = Load(stack)
    load.tolerate_errors = True  # while the database is down, writes fail; accepted ones count
    load.start()
    time.sleep(5)
    _pg_ctl("stop")
    try:
        time.sleep(4)
    finally:
        _pg_ctl("start")
    time.sleep(8)
    load.finish()
    during = dict(load.statuses)
    wait_settled(stack, load.accepted_ids, timeout=180)
    entities = assert_latest_versions(stack, load.workspace.id)
    # the service is whole again: the API accepts, Jira's calls pass
    answer = requests.post(
        f"{stack.base_url}/v1/alerts", json={"message": "after"}, headers=load.key, timeout=30
    )
    assert answer.status_code == 202
    server_errors = sum(n for k, n in during.items() if k.split()[-1].startswith("5"))
    summary(
        "outage",
        requests=load.requests,
        alerts_accepted=len(load.accepted_ids),
        components_checked=entities,
        outage_seconds=4,
        answers_5xx_during_outage=server_errors,
        statuses=during,
    )
