"""Scenario 2: a backlog of incidents and components delivered to the simulator by workers.

The backlog is written straight into ``outbox_messages`` in one transaction (what 120,000 domain
changes would have left there), while the workers already run idle; the clock starts at that
commit and stops when the simulator holds every entity.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from typing import Any

from sqlalchemy import insert

from bench.stack import Stack
from bench.stack import add_components
from bench.stack import cpu_seconds
from provider.jira.schemas import SCHEMA_VERSION
from provider.ops.components.models import Component
from provider.ops.sync.links import Links
from provider.ops.sync.payloads import component_payload
from provider.ops.workspaces.service import create_workspace
from provider.outbox.models import MessageStatus
from provider.outbox.models import OutboxMessage
from provider.times import iso
from provider.times import utcnow

logger = logging.getLogger(__name__)

CHUNK = 5000
SIM_KINDS = {"incident": "incidents", "component": "devopsComponents"}


def incident_payload(n: int, component_ids: list[str], base_url: str, usn: int) -> dict[str, Any]:
    now = iso(utcnow())
    incident_id = f"inc-{n:07d}"
    return {
        "schemaVersion": SCHEMA_VERSION,
        "id": incident_id,
        "updateSequenceNumber": usn,
        "summary": f"Incident {n}: checkout latency above 2 s",
        "description": "Opened from alert svc latency; p99 above the objective for 5 minutes.",
        "url": f"{base_url}/incidents/{incident_id}",
        "affectedComponents": [component_ids[n % len(component_ids)]],
        "createdDate": now,
        "lastUpdated": now,
        "status": "open",
        "severity": {"level": "P2"},
    }


def enqueue_backlog(
    stack: Stack, *, incidents: int, components: int, workspace_name: str = "Delivery"
) -> tuple[str, int]:
    """Write ``components`` components and ``incidents`` incidents as pending messages.

    Returns the workspace's public id and the number of messages.
    """
    installation_id = stack.installation_id()
    with stack.db.sessions.begin() as session:
        workspace, _, _ = create_workspace(session, workspace_name)
        add_components(session, workspace.id, components)
        rows: list[dict[str, Any]] = []
        component_ids: list[str] = []
        usn = int(time.time() * 1000)
        from sqlalchemy import select

        for component in session.scalars(
            select(Component).where(Component.workspace_id == workspace.id, ~Component.is_fallback)
        ):
            component.update_sequence_number = usn
            component_ids.append(component.public_id)
            rows.append(
                _message(
                    installation_id,
                    "component",
                    component.public_id,
                    dict(component_payload(component, workspace, Links(stack.base_url))),
                    workspace.public_id,
                )
            )
        if not component_ids:
            component_ids = [str(uuid.uuid4())]
        for n in range(incidents):
            payload = incident_payload(n, component_ids, stack.base_url, usn)
            rows.append(
                _message(installation_id, "incident", payload["id"], payload, workspace.public_id)
            )
        for start in range(0, len(rows), CHUNK):
            session.execute(insert(OutboxMessage), rows[start : start + CHUNK])
        return workspace.public_id, len(rows)


def _message(
    installation_id: int, kind: str, entity_id: str, payload: dict[str, Any], group: str
) -> dict[str, Any]:
    now = utcnow()
    return {
        "installation_id": installation_id,
        "kind": kind,
        "operation": "submit",
        "entity_id": entity_id,
        "group_key": group,
        "payload": payload,
        "status": MessageStatus.PENDING,
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
    }


def held(stack: Stack) -> dict[str, int]:
    site = stack.sim.site(stack.site)
    with stack.sim.world.lock:
        return {kind: len(site.entities.get(sim_kind, {})) for kind, sim_kind in SIM_KINDS.items()}


def bulk_requests(stack: Stack) -> dict[str, int]:
    counters = stack.sim.counters()["sites"].get(stack.site, {})
    bulk = counters.get("bulk_requests", {})
    return {kind: int(bulk.get(sim_kind, 0)) for kind, sim_kind in SIM_KINDS.items()}


def wait_held(stack: Stack, want: dict[str, int], timeout: float) -> float:
    start = time.monotonic()
    while True:
        now = held(stack)
        if all(now[k] >= v for k, v in want.items()):
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise RuntimeError(f"not delivered in {timeout:.0f}s: holds {now}, wants {want}")
        for proc in stack.workers:
            if proc.poll() is not None:
                raise RuntimeError(f"a worker exited with {proc.returncode}")
        time.sleep(0.05)


def run(stack: Stack, *, incidents: int, components: int, workers: int) -> dict[str, Any]:
    procs = [stack.start_worker() for _ in range(workers)]
    time.sleep(3)  # imported, connected and idle: the CPU from here on is delivery's
    cpu_before = [cpu_seconds(p.pid) for p in procs]
    bulk_before = bulk_requests(stack)
    enqueue_start = time.monotonic()
    enqueue_backlog(stack, incidents=incidents, components=components)
    enqueue_seconds = time.monotonic() - enqueue_start
    want = {"incident": incidents, "component": components}
    seconds = wait_held(stack, want, timeout=1200)
    cpu = sum(cpu_seconds(p.pid) - c for p, c in zip(procs, cpu_before, strict=True))
    after = bulk_requests(stack)
    requests = {k: after[k] - bulk_before[k] for k in want}
    total = incidents + components
    result = {
        "workers": workers,
        "incidents": incidents,
        "components": components,
        "enqueue_seconds": round(enqueue_seconds, 2),
        "seconds_to_delivered": round(seconds, 2),
        "entities_per_second": round(total / seconds, 1),
        "bulk_requests": requests,
        "bulk_requests_floor": {k: math.ceil(v / 1000) for k, v in want.items()},
        "bulk_requests_per_1000": round(sum(requests.values()) / (total / 1000), 3),
        "worker_cpu_seconds": round(cpu, 2),
        "worker_cpu_seconds_per_1000": round(cpu / (total / 1000), 3),
    }
    logger.info("delivery: %s", result)
    return result
