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
