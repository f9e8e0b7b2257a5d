"""Pacing and the points budget, against the simulator over HTTP, on the worker's own clock.

The worker runs on a clock the test moves (:class:`~tests.outbox.helpers.Clock`), so "100
changes a second for ten seconds" is a thousand steps of ten milliseconds, the same on a fast
machine and a loaded one: what is asserted is how many requests the site received, never how
long anything took.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import select

from jira_simulator import Simulator
from provider.connect.models import Installation
from provider.ops.workspaces.models import WorkspaceLink
from provider.ops.workspaces.service import create_workspace
from provider.outbox.budget import Pacing
from provider.outbox.models import DeliveryState
from provider.outbox.models import MessageStatus
from provider.outbox.worker import OutboxWorker
from provider.outbox.worker import WorkerConfig
from provider.times import utcnow
from provider.worker import build_worker
from tests.delivery.conftest import FAST
from tests.delivery.conftest import LiveApp
from tests.outbox.helpers import Clock
from tests.outbox.helpers import component_payload
from tests.outbox.helpers import incident_payload
from tests.outbox.helpers import put

PACING = Pacing(window=1.0, burst=2, settle=2.0, reserve_fraction=0.0, reserve_min=10)
INCIDENTS = "POST /rest/operations/1.0/bulk"
COMPONENTS = "POST /rest/devopscomponents/1.0/bulk"


def _worker(live: LiveApp, clock: Clock, pacing: Pacing = PACING) -> OutboxWorker:
    config = WorkerConfig(
        batch_size=FAST.batch_size,
        lease_seconds=FAST.lease_seconds,
        retry=FAST.retry,
        connect_timeout=FAST.connect_timeout,
        read_timeout=FAST.read_timeout,
        pacing=pacing,
    )
    return live.worker(config, clock=clock)


def _requests(sim: Simulator, endpoint: str, site: str = "acme") -> int:
    counts = sim.counters()["sites"].get(site, {}).get("requests", {}).get(endpoint, {})
    return sum(counts.values())


def _change(live: LiveApp, inst: Installation, kind: str, entity_id: str, usn: int) -> dict:
    payload: dict[str, Any] = (
        incident_payload(entity_id, usn, component="c-0")
        if kind == "incident"
        else component_payload(entity_id, usn)
    )
    with live.session_factory.begin() as session:
        put(session, inst, kind, entity_id, payload=payload, group_key="ws-1")
    return payload


def _stored(sim: Simulator, kind: str, site: str = "acme") -> dict[str, int]:
    return {
        entity_id: entity["updateSequenceNumber"]
        for entity_id, entity in sim.state(site)[kind].items()
    }


def test_a_steady_stream_is_sent_once_a_window_and_nothing_is_lost(
    installed: LiveApp, sim: Simulator
) -> None:
    inst = installed.installation(sim, "acme")
    clock = Clock()
    worker = _worker(installed, clock)
    latest: dict[str, int] = {}
    # 100 changes a second for four seconds, to 20 incidents in turn, the worker polling between.
    for step in range(400):
        entity_id = f"i-{step % 20}"
        latest[entity_id] = step + 1
        _change(installed, inst, "incident", entity_id, step + 1)
        worker.drain_once()
        clock.advance(0.01)

    sent = _requests(sim, INCIDENTS)
    # One batch a window after a burst of two: four windows, not four hundred polls.
    assert 4 <= sent <= 4 + PACING.burst
    clock.advance(PACING.window * PACING.burst)
    assert worker.drain() > 0
    assert installed.counts() == {}
    assert _stored(sim, "incidents") == latest


def test_an_incident_to_an_idle_site_is_sent_at_once(installed: LiveApp, sim: Simulator) -> None:
    inst = installed.installation(sim, "acme")
    clock = Clock()
    worker = _worker(installed, clock)
    _change(installed, inst, "incident", "i-1", 1)

    assert worker.drain_once() == 1
    assert _stored(sim, "incidents") == {"i-1": 1}

    # A burst of two, then the site's next request waits for its window.
    _change(installed, inst, "incident", "i-2", 1)
    assert worker.drain_once() == 1
    _change(installed, inst, "incident", "i-3", 1)
    assert worker.drain_once() == 0
    clock.advance(PACING.window)
    assert worker.drain_once() == 1
    assert set(_stored(sim, "incidents")) == {"i-1", "i-2", "i-3"}


def test_components_settle_into_one_request_while_incidents_do_not_wait(
    installed: LiveApp, sim: Simulator
) -> None:
    inst = installed.installation(sim, "acme")
    clock = Clock()
    worker = _worker(installed, clock)
    for n in range(30):
        # Rows are stamped by the wall clock: the worker's must not fall behind it here.
        clock.now = max(clock.now, utcnow())
        _change(installed, inst, "component", f"c-{n}", 1)
        assert worker.drain_once() == 0  # new ones keep arriving: not settled
        clock.advance(0.05)
    _change(installed, inst, "incident", "i-1", 1)
    assert worker.drain_once() == 1  # the incident, ahead of the components still settling

    clock.now = max(clock.now, utcnow()) + timedelta(seconds=PACING.settle)
    assert worker.drain_once() == 30
    assert _requests(sim, COMPONENTS) == 1
    assert len(_stored(sim, "components")) == 30


def _budget(live: LiveApp, inst: Installation) -> DeliveryState:
    with live.session_factory() as session:
        return session.scalars(
            select(DeliveryState).where(DeliveryState.installation_id == inst.id)
        ).one()


def test_near_the_quota_incidents_flow_components_wait_and_nothing_is_lost(
    installed: LiveApp, sim: Simulator
) -> None:
    inst = installed.installation(sim, "acme")
    sim.quotas.configure("acme", points=30, window=3600)
    clock = Clock()
    worker = _worker(installed, clock)
    # Spend 20 of the 30 points, one request at a time; the reserve is 10.
    for n in range(20):
        _change(installed, inst, "incident", f"warmup-{n}", 1)
        assert worker.drain_once() == 1
        clock.advance(PACING.window)
    state = _budget(installed, inst)
    assert (state.points_quota, state.points_remaining, state.points_spent) == (30, 10, 20)
    assert state.points_low_until is not None

    _change(installed, inst, "component", "c-held", 1)
    clock.advance(PACING.settle)
    for n in range(5):
        _change(installed, inst, "incident", f"i-{n}", 1)
        assert worker.drain_once() == 1  # an incident, never the component
        clock.advance(PACING.window)
    assert worker.drain_once() == 0
    assert installed.counts() == {MessageStatus.PENDING.value: 1}
    assert "c-held" not in _stored(sim, "components")

    # The quota's window renews: Jira's next answer says so, and the component goes.
    sim.quotas.reset()
    clock.advance(3600)
    assert worker.drain_once() == 1
    assert installed.counts() == {}
    assert "c-held" in _stored(sim, "components")
    assert sim.quotas.snapshot()["sites"]["acme"]["refused"] == 0
    assert _budget(installed, inst).points_low_until is None


@pytest.mark.slow
def test_1500_components_from_8_clients_after_two_429s_go_out_in_few_bulk_requests(
    installed: LiveApp, sim: Simulator
) -> None:
    """The issue's case: the worker as `provider worker` runs it, on real time."""
    inst = installed.installation(sim, "acme")
    with installed.session_factory.begin() as session:
        workspace, key, _ = create_workspace(session, "Payments")
        session.add(WorkspaceLink(installation_id=inst.id, workspace_id=workspace.id))
    sim.faults.add(
        "429", site="acme", method="POST", path="/rest/devopscomponents/1.0/bulk", times=2
    )
    worker = build_worker(installed.settings, session_factory=installed.session_factory)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    http = requests.Session()

    def create(n: int) -> int:
        return http.post(
            f"{installed.url}/v1/components",
            json={"name": f"svc-{n:04d}"},
            headers={"Authorization": f"GenieKey {key}"},
            timeout=30,
        ).status_code

    try:
        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(create, range(1500))) == {201}
        deadline = time.monotonic() + 120
        while len(sim.state("acme")["components"]) < 1500 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop.set()
        thread.join(30)
    assert len(sim.state("acme")["components"]) == 1500
    assert installed.counts() == {}
    assert sim.counters()["sites"]["acme"]["faults_injected"] == {"429": 2}
    assert _requests(sim, COMPONENTS) <= 6
