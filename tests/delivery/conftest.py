"""End-to-end delivery: the real app installed by the local Jira simulator, over real HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker
from werkzeug.serving import make_server

from jira_simulator import Simulator
from provider.app import create_app
from provider.config import Settings
from provider.connect.models import Installation
from provider.db import make_session_factory
from provider.ops.sync.links import bind_links
from provider.outbox.budget import Pacing
from provider.outbox.models import MessageStatus
from provider.outbox.models import OutboxMessage
from provider.outbox.retry import RetryPolicy
from provider.outbox.worker import OutboxWorker
from provider.outbox.worker import WorkerConfig
from provider.outbox.worker import make_client_factory
from tests.conftest import make_settings

# Short waits everywhere: the behaviour is the same, the suite stays fast.
FAST = WorkerConfig(
    batch_size=1000,
    lease_seconds=30,
    retry=RetryPolicy(
        base_delay=0.05,
        max_delay=0.4,
        max_attempts=100,
        throttle_base_delay=0.1,
        throttle_max_delay=0.5,
    ),
    connect_timeout=2,
    read_timeout=2,
    pacing=Pacing(window=0.02, settle=0),
)


class _Dispatch:
    """A WSGI app whose target is set after the server has its port (the app needs its URL)."""

    app: Any = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.app(environ, start_response)


@dataclass
class LiveApp:
    url: str
    settings: Settings
    session_factory: sessionmaker[Session]

    @property
    def descriptor_url(self) -> str:
        return f"{self.url}/atlassian-connect.json"

    def installation(self, sim: Simulator, site: str) -> Installation:
        client_key = sim.site(site).client_key
        with self.session_factory() as session:
            return session.scalars(
                select(Installation).where(Installation.client_key == client_key)
            ).one()

    def worker(self, config: WorkerConfig = FAST, **kw: Any) -> OutboxWorker:
        return OutboxWorker(
            self.session_factory,
            make_client_factory(self.settings, config),
            config=config,
            **kw,
        )

    def counts(self) -> dict[str, int]:
        with self.session_factory() as session:
            rows = session.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
            )
            return {str(status): n for status, n in rows}

    def deliver_all(self, worker: OutboxWorker | None = None, timeout: float = 60) -> None:
        """Drain until nothing is pending or sending (retries wait their turn)."""
        worker = worker or self.worker()
        deadline = time.monotonic() + timeout
        while True:
            if worker.drain() == 0:
                counts = self.counts()
                if not counts.get(MessageStatus.PENDING) and not counts.get(MessageStatus.SENDING):
                    return
                if time.monotonic() > deadline:
                    raise AssertionError(f"outbox not drained in {timeout}s: {counts}")
                time.sleep(0.05)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(sites=("acme", "globex"), seed=7) as simulator:
        yield simulator


def start_app(database_url: str, sim: Simulator, **overrides: object) -> tuple[Any, LiveApp]:
    dispatch = _Dispatch()
    server = make_server("127.0.0.1", 0, dispatch, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    values: dict[str, object] = {
        "base_url": url,
        "install_keys_url": sim.keys_url,
        "allowed_jira_hosts": ("127.0.0.1",),
        # The simulator plays Forge as well: its app id, JWKS and API host.
        "forge_app_id": sim.forge.app_id,
        "forge_jwks_url": sim.forge_jwks_url,
        "forge_api_hosts": ("127.0.0.1",),
    }
    settings = make_settings(database_url, **{**values, **overrides})
    dispatch.app = create_app(settings, configure_logs=False)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    return server, LiveApp(
        url, settings, bind_links(make_session_factory(settings), settings.base_url)
    )


@pytest.fixture
def live(fresh_database_url: str, sim: Simulator) -> Iterator[LiveApp]:
    server, app = start_app(fresh_database_url, sim)
    try:
        yield app
    finally:
        server.shutdown()
        server.server_close()
        app.session_factory.kw["bind"].dispose()


@pytest.fixture
def installed(live: LiveApp, sim: Simulator) -> LiveApp:
    for site in ("acme", "globex"):
        result = sim.install(site, live.descriptor_url)
        assert result.ok, {k: (r.status_code, r.text) for k, r in result.responses.items()}
    return live
