"""Delivery through the local Jira simulator: scale, faults, 413, rejections, pause, re-install."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy.orm import Session

from jira_simulator import Simulator
from provider.connect.models import Installation
from provider.crypto import SecretBox
from provider.crypto import hash_key
from provider.ops.components.models import Component
from provider.ops.sync import service as sync
from provider.ops.workspaces.models import Workspace
from provider.ops.workspaces.models import WorkspaceLink
from provider.outbox.models import MessageStatus
from provider.outbox.models import OutboxMessage
from tests.conftest import TEST_SECRET_KEY
from tests.delivery.conftest import LiveApp
from tests.outbox.helpers import component_payload
from tests.outbox.helpers import incident_payload
from tests.outbox.helpers import put


def _enqueue_versions(
    live: LiveApp, inst: Installation, kind: str, n: int, usn: int, *, start: int = 0
) -> dict[str, dict]:
    latest: dict[str, dict] = {}
    with live.session_factory.begin() as session:
        for i in range(start, start + n):
            entity_id = f"{kind[0]}-{i}"
            payload = (
                component_payload(entity_id, usn)
                if kind == "component"
                else incident_payload(entity_id, usn, component="c-0")
            )
            put(session, inst, kind, entity_id, payload=payload, group_key="ws-1")
            latest[entity_id] = payload
    return latest


def _bulk_insert(live: LiveApp, inst: Installation, kind: str, n: int) -> dict[str, dict]:
    """What ``enqueue`` writes into an empty outbox, as one multi-row insert to keep setup fast."""
    latest: dict[str, dict] = {}
    rows = []
    for i in range(n):
        entity_id = f"{kind[0]}-{i}"
        payload = (
            component_payload(entity_id, 1)
            if kind == "component"
            else incident_payload(entity_id, 1, component="c-0")
        )
        latest[entity_id] = payload
        rows.append(
            {
                "installation_id": inst.id,
                "kind": kind,
                "operation": "submit",
                "entity_id": entity_id,
                "group_key": "ws-1",
                "payload": payload,
                "status": MessageStatus.PENDING,
                "attempts": 0,
            }
        )
    with live.session_factory.begin() as session:
        session.execute(insert(OutboxMessage), rows)
    return latest


@pytest.mark.slow
def test_ten_thousand_components_and_incidents_in_twenty_bulk_requests(
    installed: LiveApp, sim: Simulator
) -> None:
    inst = installed.installation(sim, "acme")
    components = _bulk_insert(installed, inst, "component", 10_000)
    incidents = _bulk_insert(installed, inst, "incident", 10_000)
    # Newer versions of some entities before delivery: they replace the pending ones.
    components.update(_enqueue_versions(installed, inst, "component", 300, usn=2))
    incidents.update(_enqueue_versions(installed, inst, "incident", 300, usn=2, start=9_700))

    # The simulator validates every entity against the JSON schemas (about 1 ms each).
    installed.deliver_all(installed.worker(installed_config(read_timeout=60)), timeout=240)

    counters = sim.counters()["sites"]["acme"]
    assert counters["bulk_requests"] == {"devopsComponents": 10, "incidents": 10}
    state = sim.state("acme")
    assert state["components"] == components
    assert state["incidents"] == incidents
    assert set(state["properties"]["incidents"]["i-1"].items()) == {("workspaceId", "ws-1")}
    assert installed.counts() == {}
    assert counters["rejected_auth"] == 0


def test_faults_lose_nothing_honour_retry_after_and_spare_the_other_site(
    installed: LiveApp, sim: Simulator
) -> None:
    acme = installed.installation(sim, "acme")
    globex = installed.installation(sim, "globex")
    sim.faults.add("429", site="acme", fraction=0.15, retry_after=1)
    sim.faults.add("429", site="acme", fraction=0.1)
    sim.faults.add("503", site="acme", fraction=0.1, retry_after=1)
    sim.faults.add("503", site="acme", fraction=0.05)
    sim.faults.add("500", site="acme", fraction=0.1)
    sim.faults.add("delay", site="acme", fraction=0.1, delay=0.3)
    sim.faults.add("delay", site="acme", fraction=0.05, delay=3)  # beyond the read timeout
    sim.faults.add("drop", site="acme", fraction=0.1)
    worker = installed.worker(installed_config(batch_size=20))

    latest_acme = _enqueue_versions(installed, acme, "incident", 120, usn=1)
    latest_acme |= _enqueue_versions(installed, acme, "component", 60, usn=1)
    latest_globex = _enqueue_versions(installed, globex, "incident", 120, usn=1)
    worker.drain(max_batches=4)
    latest_acme |= _enqueue_versions(installed, acme, "incident", 60, usn=2, start=30)
    latest_acme |= _enqueue_versions(installed, acme, "component", 30, usn=3)

    installed.deliver_all(worker, timeout=90)

    acme_state, globex_state = sim.state("acme"), sim.state("globex")
    got = {**acme_state["incidents"], **acme_state["components"]}
    assert got == latest_acme
    assert globex_state["incidents"] == latest_globex
    counters = sim.counters()
    assert counters["retry_after_violations"] == 0
    faults = counters["sites"]["acme"]["faults_injected"]
    assert {"429", "503", "500", "drop", "delay"} <= set(faults)
    assert "globex" not in {s for s, b in counters["sites"].items() if b["faults_injected"]}


def test_a_throttled_site_does_not_hold_up_another(installed: LiveApp, sim: Simulator) -> None:
    acme = installed.installation(sim, "acme")
    globex = installed.installation(sim, "globex")
    sim.faults.add("429", site="acme", retry_after=30, times=1)
    _enqueue_versions(installed, acme, "incident", 10, usn=1)
    latest = _enqueue_versions(installed, globex, "incident", 10, usn=1)
    worker = installed.worker()

    worker.drain()

    assert sim.state("globex")["incidents"] == latest
    assert sim.state("acme")["incidents"] == {}
    assert installed.counts() == {"pending": 10}
    assert sim.counters()["retry_after_violations"] == 0
    assert sim.counters()["rejected_auth"] == 0  # every call passed the JWT and qsh checks


def installed_config(**changes: object):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from tests.delivery.conftest import FAST

    return replace(FAST, **changes)  # type: ignore[arg-type]


def test_413_splits_and_rejected_entities_keep_jiras_message(
    installed: LiveApp, sim: Simulator
) -> None:
    sim.max_entities = 300
    acme = installed.installation(sim, "acme")
    latest = _enqueue_versions(installed, acme, "incident", 1000, usn=1)
    bad = incident_payload("bad-1", 1) | {"summary": "x" * 300}
    with installed.session_factory.begin() as session:
        put(session, acme, "incident", "bad-1", payload=bad, group_key="ws-1")

    installed.deliver_all()

    assert sim.state("acme")["incidents"] == latest
    statuses = sim.counters()["sites"]["acme"]["requests"]
    assert any("413" in by_status for by_status in statuses.values())
    with installed.session_factory() as session:
        (failed,) = session.scalars(select(OutboxMessage)).all()
    assert (failed.entity_id, failed.status) == ("bad-1", MessageStatus.FAILED)
    assert "summary" in (failed.last_error or "")


def _run_cli(live: LiveApp, *args: str) -> list[dict]:
    env = {
        **os.environ,
        "DATABASE_URL": live.settings.database_url,
        "BASE_URL": live.settings.base_url,
        "APP_KEY": live.settings.app_key,
        "SECRET_KEY": TEST_SECRET_KEY,
        "LOG_LEVEL": "WARNING",
    }
    out = subprocess.run(
        [sys.executable, "-m", "provider.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def test_401_pauses_the_site_visibly_until_a_reinstall(installed: LiveApp, sim: Simulator) -> None:
    acme = installed.installation(sim, "acme")
    with installed.session_factory.begin() as session:
        row = session.get_one(Installation, acme.id)
        # The site no longer trusts this secret (what Jira does after a secret rotation we missed).
        row.shared_secret_encrypted = SecretBox(TEST_SECRET_KEY).encrypt(
            "stale-secret-0123456789-0123456789"
        )
    latest = _enqueue_versions(installed, acme, "incident", 5, usn=1)

    worker = installed.worker()
    worker.drain()
    worker.drain()

    assert sim.counters()["sites"]["acme"]["rejected_auth"] == 1
    (listed,) = [
        i for i in _run_cli(installed, "installations", "list") if i["clientKey"] == acme.client_key
    ]
    assert listed["deliveryPaused"] is True
    (status,) = [
        s for s in _run_cli(installed, "outbox", "status") if s["clientKey"] == acme.client_key
    ]
    assert status["paused"] is True
    assert "401" in status["pausedReason"]
    assert status["pending"] == 5

    assert sim.install("acme", installed.descriptor_url).ok  # verified re-install: new secret
    installed.deliver_all()
    assert sim.state("acme")["incidents"] == latest
    (status,) = [
        s for s in _run_cli(installed, "outbox", "status") if s["clientKey"] == acme.client_key
    ]
    assert status["paused"] is False
    assert status["lastSuccessAt"] is not None


def _workspace_with_components(session: Session, inst: Installation, n: int) -> Workspace:
    ws = Workspace(
        name="Payments",
        api_key_hash=hash_key(f"k-{inst.id}"),
    )
    session.add(ws)
    session.flush()
    session.add(WorkspaceLink(installation_id=inst.id, workspace_id=ws.id))
    for i in range(n):
        session.add(Component(workspace_id=ws.id, name=f"svc-{i}", name_lower=f"svc-{i}"))
    session.flush()
    return ws


def test_reinstall_backfills_linked_workspaces_then_components(
    installed: LiveApp, sim: Simulator
) -> None:
    acme = installed.installation(sim, "acme")
    with installed.session_factory.begin() as session:
        ws = _workspace_with_components(session, acme, 3)
        for component in session.scalars(select(Component).where(Component.workspace_id == ws.id)):
            sync.publish(session, component)
    installed.deliver_all()
    assert len(sim.state("acme")["components"]) == 3

    sim.uninstall("acme")
    assert sim.state("acme")["components"] == {}
    assert sim.install("acme", installed.descriptor_url).ok
    installed.deliver_all()

    state = sim.state("acme")
    assert state["linkedWorkspaces"] == [ws.public_id]
    assert len(state["components"]) == 3
    assert all(
        p == {"workspaceId": ws.public_id} for p in state["properties"]["devopsComponents"].values()
    )
    # Every re-send carried a strictly larger sequence number.
    for key, usns in state["usnHistory"].items():
        assert usns == sorted(set(usns)), key


def test_resync_command_reenqueues_everything_in_order(installed: LiveApp, sim: Simulator) -> None:
    acme = installed.installation(sim, "acme")
    with installed.session_factory.begin() as session:
        ws = _workspace_with_components(session, acme, 4)

    env_out = subprocess.run(
        [sys.executable, "-m", "provider.cli", "resync", "--client-key", acme.client_key],
        env={
            **os.environ,
            "DATABASE_URL": installed.settings.database_url,
            "BASE_URL": installed.settings.base_url,
            "SECRET_KEY": TEST_SECRET_KEY,
            "APP_KEY": installed.settings.app_key,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "enqueued 5 messages" in env_out.stdout
    installed.deliver_all()
    state = sim.state("acme")
    assert state["linkedWorkspaces"] == [ws.public_id]
    assert len(state["components"]) == 4


def test_unlinking_removes_the_workspace_and_its_data_in_jira(
    installed: LiveApp, sim: Simulator
) -> None:
    acme = installed.installation(sim, "acme")
    with installed.session_factory.begin() as session:
        put(session, acme, "linked_workspace", "ws-1", group_key="ws-1")
        put(session, acme, "linked_workspace", "ws-2", group_key="ws-2")
    _enqueue_versions(installed, acme, "component", 3, usn=1)
    _enqueue_versions(installed, acme, "incident", 3, usn=1)
    installed.deliver_all()
    assert sorted(sim.state("acme")["linkedWorkspaces"]) == ["ws-1", "ws-2"]

    with installed.session_factory.begin() as session:
        put(session, acme, "linked_workspace", "ws-1", operation="delete", group_key="ws-1")
    installed.deliver_all()

    state = sim.state("acme")
    assert state["linkedWorkspaces"] == ["ws-2"]
    assert state["components"] == {}
    assert state["incidents"] == {}
