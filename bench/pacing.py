"""Scenario 5: how many requests the worker makes to a site, for Jira's points quota.

Jira charges every write request one point of an hourly per-site quota whatever its size, so
the figure that matters is requests, not entities.

* **Burst**: 1,500 components created through the API by 8 clients while the simulator answers
  the first two bulk requests with 429 (no Retry-After: the worker's own backoff); counted are
  the bulk requests until the simulator holds all 1,500.
* **Steady**: 100 changes a second for 60 s, half to 20 incidents, half to 200 components, in
  turn; counted are the requests the site got from the first change until everything is
  delivered, per minute of the stream, and whether the simulator ends with the latest version
  of every entity.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from sqlalchemy import func
from sqlalchemy import select

from bench.delivery import incident_payload
from bench.stack import Stack
from bench.stack import cpu_seconds
from provider.jira.schemas import SCHEMA_VERSION
from provider.ops.alerts.models import AlertRequest
from provider.ops.alerts.models import RequestState
from provider.outbox.models import OutboxMessage
from provider.outbox.queue import enqueue
from provider.times import iso
from provider.times import utcnow

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


def _component_payload(entity_id: str, usn: int, description: str) -> dict[str, Any]:
    return {
        "schemaVersion": SCHEMA_VERSION,
        "id": entity_id,
        "updateSequenceNumber": usn,
        "name": f"Service {entity_id}",
        "description": description,
        "url": f"https://provider.example.com/components/{entity_id}",
        "avatarUrl": "https://provider.example.com/static/component.svg",
        "tier": "Tier 1",
        "componentType": "Service",
        "lastUpdated": iso(utcnow()),
    }


def steady(
    stack: Stack, worker: Any, *, rate: float = 100.0, duration: float = 60.0
) -> dict[str, Any]:
    """Changes enqueued as the domain enqueues them (``outbox.queue.enqueue``), on a schedule.

    The changes go straight into the outbox, not through the API: on a machine shared with
    other work the API could not take 100 a second, and what is measured is the worker's
    requests to the site, not intake. Half are incidents (20 in turn), half components (200).
    """
    installation_id = stack.installation_id()
    latest: dict[tuple[str, str], int] = {}
    writes_before = _writes(stack)
    cpu_before = cpu_seconds(worker.pid)
    started = time.monotonic()
    total = int(rate * duration)
    n = 0
    while n < total:
        due = min(total, int((time.monotonic() - started) * rate) + 1)
        with stack.db.sessions.begin() as session:
            for i in range(n, due):
                usn = i + 1
                if i % 2:
                    kind, entity_id = "component", f"steady-c-{(i // 2) % 200}"
                    payload = _component_payload(entity_id, usn, f"version {usn}")
                else:
                    kind, entity_id = "incident", f"steady-i-{(i // 2) % 20}"
                    payload = incident_payload(i, [f"steady-c-{i % 200}"], stack.base_url, usn)
                    payload["id"] = entity_id
                enqueue(
                    session,
                    installation_id=installation_id,
                    kind=kind,
                    operation="submit",
                    entity_id=entity_id,
                    payload=payload,
                    group_key="steady",
                )
                latest[(kind, entity_id)] = usn
        n = due
        time.sleep(max(0.0, started + n / rate - time.monotonic()))
    stream_s = time.monotonic() - started
    writes_during = _writes(stack) - writes_before
    drain_s = _wait(lambda: _outbox_empty(stack), 900)
    writes = _writes(stack) - writes_before
    state = stack.sim.state(stack.site)
    held = {
        **{("incident", k): v["updateSequenceNumber"] for k, v in state["incidents"].items()},
        **{("component", k): v["updateSequenceNumber"] for k, v in state["components"].items()},
    }
    lost = [key for key, usn in latest.items() if held.get(key) != usn]
    return {
        "changes": total,
        "rate_per_s": rate,
        "stream_s": round(stream_s, 1),
        "site_writes_during_stream": writes_during,
        "site_writes_until_drained": writes,
        "site_writes_per_minute": round(writes / (stream_s / 60), 1),
        "drained_after_stream_s": round(drain_s, 1),
        "entities": len(latest),
        "entities_not_at_latest": len(lost),
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
