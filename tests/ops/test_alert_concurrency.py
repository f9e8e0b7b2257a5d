"""De-duplication is exact under concurrency: real HTTP, a thread pool of clients, real commits."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import requests
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from provider.ops.alerts.listeners import NO_LISTENERS
from provider.ops.alerts.models import Alert
from provider.ops.alerts.models import AlertRequest
from provider.ops.alerts.models import AlertStatus
from provider.ops.alerts.models import RequestState
from provider.ops.alerts.processing import process_pending
from provider.ops.workspaces.service import create_workspace
from provider.worker import alert_listeners

CREATES = 1000
ALIASES = 50


def test_concurrent_creates_over_few_aliases_deduplicate_exactly(
    live: tuple[str, sessionmaker[Session]], databases
) -> None:  # type: ignore[no-untyped-def]
    base, factory = live
    with factory.begin() as session:
        workspace, key, _ = create_workspace(session, "Load")
        workspace_id = workspace.id
    local = threading.local()

    def create(i: int) -> int:
        if not hasattr(local, "http"):
            local.http = requests.Session()
        response = local.http.post(
            f"{base}/v1/alerts",
            json={"message": f"occurrence {i}", "alias": f"alias-{i % ALIASES}"},
            headers={"Authorization": f"GenieKey {key}"},
            timeout=60,
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(create, range(CREATES)))
    assert statuses == [202] * CREATES

    processors = 2 if databases.backend == "postgresql" else 1
    with ThreadPoolExecutor(max_workers=processors) as pool:
        counts = list(
            pool.map(
                lambda _: process_pending(factory, listeners=NO_LISTENERS, limit=CREATES * 2),
                range(processors),
            )
        )
    assert sum(counts) == CREATES

    with factory() as session:
        open_alerts = session.scalars(
            select(Alert).where(
                Alert.workspace_id == workspace_id, Alert.status == AlertStatus.OPEN
            )
        ).all()
        assert len(open_alerts) == ALIASES
        assert sum(a.count for a in open_alerts) == CREATES
        assert {a.alias for a in open_alerts} == {f"alias-{i}" for i in range(ALIASES)}
        failed = session.scalar(
            select(func.count())
            .select_from(AlertRequest)
            .where(AlertRequest.state != RequestState.PROCESSED)
        )
        assert failed == 0
        not_ok = session.scalar(
            select(func.count())
            .select_from(AlertRequest)
            .where(AlertRequest.is_success.is_not(True))
        )
        assert not_ok == 0


STORM_WORKSPACES = 3
STORM_ALIASES = 60


def test_deduplication_stays_exact_while_a_storm_is_processed(
    live: tuple[str, sessionmaker[Session]], databases
) -> None:  # type: ignore[no-untyped-def]
    """Creates from several workspaces arrive while processors run (two on PostgreSQL): every
    alias ends with one open alert whose count is the number of creates sent for it."""
    base, factory = live
    with factory.begin() as session:
        made = [create_workspace(session, f"Storm {n}") for n in range(STORM_WORKSPACES)]
        keys = {workspace.id: key for workspace, key, _ in made}
    # alias i gets 1 + i % 7 creates, in every workspace, so counts differ between aliases
    sends = [
        (workspace_id, i)
        for i in range(STORM_ALIASES)
        for workspace_id in keys
        for _ in range(1 + i % 7)
    ]
    sends.sort(key=lambda send: hash((send, len(sends))))  # interleave aliases and workspaces
    local = threading.local()

    def create(send: tuple[int, int]) -> int:
        workspace_id, i = send
        if not hasattr(local, "http"):
            local.http = requests.Session()
        response = local.http.post(
            f"{base}/v1/alerts",
            json={"message": f"storm {i}", "alias": f"alias-{i}", "priority": "P1"},
            headers={"Authorization": f"GenieKey {keys[workspace_id]}"},
            timeout=60,
        )
        return response.status_code

    stop = threading.Event()

    def processor() -> int:
        done = 0
        while not stop.is_set():
            applied = process_pending(factory, listeners=alert_listeners(), limit=50)
            done += applied
            if not applied:
                stop.wait(0.01)
        return done + process_pending(factory, listeners=alert_listeners(), limit=len(sends))

    processors = 2 if databases.backend == "postgresql" else 1
    with ThreadPoolExecutor(max_workers=processors) as workers:
        running = [workers.submit(processor) for _ in range(processors)]
        with ThreadPoolExecutor(max_workers=16) as pool:
            statuses = list(pool.map(create, sends))
        stop.set()
        assert sum(r.result() for r in running) == len(sends)
    assert statuses == [202] * len(sends)

    with factory() as session:
        open_alerts = session.scalars(select(Alert).where(Alert.status == AlertStatus.OPEN)).all()
        counts = {(a.workspace_id, a.alias): a.count for a in open_alerts}
        assert len(counts) == len(open_alerts)  # one open alert per alias
        assert counts == {
            (workspace_id, f"alias-{i}"): 1 + i % 7
            for workspace_id in keys
            for i in range(STORM_ALIASES)
        }
        outcomes = session.execute(
            select(AlertRequest.state, AlertRequest.is_success, func.count()).group_by(
                AlertRequest.state, AlertRequest.is_success
            )
        ).all()
        assert outcomes == [(RequestState.PROCESSED, True, len(sends))]
