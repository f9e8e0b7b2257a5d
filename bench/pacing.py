"""Scenario 5: how many requests the worker makes to a site, for Jira's points quota.

Jira charges every write request one point of an hourly per-site quota whatever its size, so
the figure that matters is requests, not entities.

* **Burst**: 1,500 components created through the API by 8 clients while the simulator answers
  the first two bulk requests with 429 (no Retry-After: the worker's own backoff); counted are
  the bulk requests until the simulator holds all 1,500.
* **Steady**: 100 changes a second for 60 s through the API, half alerts (P1, each a new alias:
  the promotion rule puts them into the workspace's open incident, which changes every time)
  and half component updates (200 components in turn); counted are the requests the site got
  from the first change until everything is delivered, per minute of the stream, and whether
  the simulator ends with the latest version of every entity.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from sqlalchemy import func
from sqlalchemy import select

from bench.stack import Stack
from bench.stack import cpu_seconds
from provider.ops.alerts.models import AlertRequest
from provider.ops.alerts.models import RequestState
from provider.ops.components.models import Component
from provider.ops.incidents.models import Incident
from provider.outbox.models import OutboxMessage

logger = logging.getLogger(__name__)

COMPONENTS_BULK = "POST /rest/devopscomponents/1.0/bulk"


def _writes(stack: Stack) -> int:
    """Every request the site answered that spent a point: the app's writes."""
    site = stack.sim.counters()["sites"].get(stack.site, {})
    return sum(
        sum(statuses.values())
        for endpoint, statuses in site.get("requests", {}).items()
        if endpoint.split(" ", 1)[0] in ("POST", "PUT", "DELETE")
    )


def _endpoint(stack: Stack, endpoint: str) -> int:
    site = stack.sim.counters()["sites"].get(stack.site, {})
    return sum(site.get("requests", {}).get(endpoint, {}).values())


def _outbox_empty(stack: Stack) -> bool:
    with stack.db.sessions() as session:
        outbox = session.scalar(select(func.count()).select_from(OutboxMessage)) or 0
        alerts = session.scalar(
            select(func.count())
            .select_from(AlertRequest)
            .where(AlertRequest.state == RequestState.PENDING)
        )
        return outbox == 0 and not alerts


def _wait(predicate: Any, timeout: float) -> float:
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise RuntimeError("timed out")
        time.sleep(0.1)
    return time.monotonic() - start


def burst(stack: Stack, worker: Any, *, components: int = 1500, clients: int = 8) -> dict[str, Any]:
    workspace = stack.seed_workspace("Burst")
    stack.sim.faults.add(
        "429", site=stack.site, method="POST", path="/rest/devopscomponents/", times=2
    )
    http = requests.Session()
    headers = {"Authorization": f"GenieKey {workspace.api_key}"}

    def create(n: int) -> int:
        return http.post(
            f"{stack.base_url}/v1/components",
            json={"name": f"burst-{n:05d}"},
            headers=headers,
            timeout=60,
        ).status_code

    cpu_before = cpu_seconds(worker.pid)
    started = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        statuses = list(pool.map(create, range(components)))
    created_s = time.monotonic() - started
    held = lambda: len(stack.sim.state(stack.site)["components"]) >= components  # noqa: E731
    _wait(held, 600)
    _wait(lambda: _outbox_empty(stack), 600)
    return {
        "components": components,
        "clients": clients,
        "created_201": statuses.count(201),
        "creation_s": round(created_s, 1),
        "delivered_s": round(time.monotonic() - started, 1),
        "bulk_requests": _endpoint(stack, COMPONENTS_BULK),
        "answered_429": stack.sim.counters()["sites"][stack.site]["faults_injected"].get("429", 0),
        "in_simulator": len(stack.sim.state(stack.site)["components"]),
        "worker_cpu_s": round(cpu_seconds(worker.pid) - cpu_before, 2),
    }


def steady(
    stack: Stack, worker: Any, *, rate: float = 100.0, duration: float = 60.0
) -> dict[str, Any]:
    workspace = stack.seed_workspace("Steady", components=200)
    with stack.db.sessions() as session:
        ids = list(
            session.scalars(
                select(Component.public_id)
                .where(Component.workspace_id == workspace.id)
                .order_by(Component.name)
            )
        )
    http = requests.Session()
    headers = {"Authorization": f"GenieKey {workspace.api_key}"}
    latest: dict[str, str] = {}
    lock = threading.Lock()
    statuses: list[int] = []

    def change(n: int) -> None:
        if n % 2:
            component_id = ids[(n // 2) % len(ids)]
            description = f"version {n}"
            response = http.patch(
                f"{stack.base_url}/v1/components/{component_id}",
                json={"description": description},
                headers=headers,
                timeout=60,
            )
            with lock:
                if response.status_code == 200:
                    latest[component_id] = description
        else:
            response = http.post(
                f"{stack.base_url}/v1/alerts",
                json={"message": f"latency high {n}", "alias": f"steady-{n}", "priority": "P1"},
                headers=headers,
                timeout=60,
            )
        with lock:
            statuses.append(response.status_code)

    writes_before = _writes(stack)
    cpu_before = cpu_seconds(worker.pid)
    started = time.monotonic()
    total = int(rate * duration)
    with ThreadPoolExecutor(16) as pool:
        for n in range(total):
            delay = started + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(change, n)
    stream_s = time.monotonic() - started
    writes_during = _writes(stack) - writes_before
    drain_s = _wait(lambda: _outbox_empty(stack), 900)
    writes = _writes(stack) - writes_before
    state = stack.sim.state(stack.site)
    stale = [
        cid
        for cid, text in latest.items()
        if state["components"].get(cid, {}).get("description") != text
    ]
    with stack.db.sessions() as session:
        incidents = {
            i.public_id: i.update_sequence_number
            for i in session.scalars(select(Incident).where(Incident.workspace_id == workspace.id))
        }
    incidents_stale = [
        iid
        for iid, usn in incidents.items()
        if state["incidents"].get(iid, {}).get("updateSequenceNumber") != usn
    ]
    return {
        "changes": total,
        "rate_per_s": rate,
        "stream_s": round(stream_s, 1),
        "accepted": sum(1 for s in statuses if s in (200, 202)),
        "errors": sum(1 for s in statuses if s not in (200, 202)),
        "site_writes_during_stream": writes_during,
        "site_writes_until_drained": writes,
        "site_writes_per_minute": round(writes / (stream_s / 60), 1),
        "drained_after_stream_s": round(drain_s, 1),
        "components_stale": len(stale),
        "incidents": len(incidents),
        "incidents_stale": len(incidents_stale),
        "worker_cpu_s": round(cpu_seconds(worker.pid) - cpu_before, 2),
    }


def run(stack: Stack, *, quick: bool = False) -> dict[str, Any]:
    """Both, one after the other, with one worker as `provider worker` runs it by default."""
    worker = stack.start_worker()
    time.sleep(2)
    return {
        "burst": burst(stack, worker),
        "steady": steady(stack, worker, duration=15 if quick else 60),
    }
