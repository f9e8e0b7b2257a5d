"""De-duplication is exact under concurrency: real HTTP, a thread pool of clients, real commits."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker
from werkzeug.serving import make_server

from provider.app import create_app
from provider.config import Settings
from provider.db import make_engine
from provider.db import make_session_factory
from provider.ops.alerts.listeners import NO_LISTENERS
from provider.ops.alerts.models import Alert
from provider.ops.alerts.models import AlertRequest
from provider.ops.alerts.models import AlertStatus
from provider.ops.alerts.models import RequestState
from provider.ops.alerts.processing import process_pending
from provider.ops.workspaces.service import create_workspace

CREATES = 1000
ALIASES = 50


@pytest.fixture
def live(
    settings: Settings, fresh_database_url: str
) -> Iterator[tuple[str, sessionmaker[Session]]]:
    engine = make_engine(fresh_database_url)
    factory = make_session_factory(engine)
    app = create_app(
        settings.with_(database_url=fresh_database_url, api_rate_limit_per_minute=100_000),
        session_factory=factory,
        configure_logs=False,
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", factory
    finally:
        server.shutdown()
        thread.join()
        engine.dispose()


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
