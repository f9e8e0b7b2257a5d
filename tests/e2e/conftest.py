"""The whole product over real HTTP: the app in a thread, the Jira simulator, the CLI, the worker's jobs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from sqlalchemy import func
from sqlalchemy import select

import provider.cli  # noqa: F401  (the composition root: registers the worker's ticks)
from jira_simulator import Simulator
from provider.ops.alerts.models import AlertRequest
from provider.ops.alerts.models import RequestState
from provider.outbox.models import MessageStatus
from provider.outbox.models import OutboxMessage
from provider.worker import build_worker
from tests.conftest import TEST_SECRET_KEY
from tests.delivery.conftest import FAST
from tests.delivery.conftest import LiveApp
from tests.delivery.conftest import start_app


class Stack:
    """The running app, its worker jobs, the command line and the workspace API."""

    def __init__(self, live: LiveApp) -> None:
        self.live = live
        self.url = live.url
        self.http = requests.Session()
        # Exactly what `provider worker` runs.
        self.worker = build_worker(live.settings, session_factory=live.session_factory, config=FAST)

    def run_worker(self, timeout: float = 60) -> None:
        """Run the worker's jobs until none has anything to do and nothing waits for delivery."""
        deadline = time.monotonic() + timeout
        while True:
            busy = self.worker.run_once()
            if busy == 0:
                waiting = self._waiting()
                if waiting == 0:
                    return
                if time.monotonic() > deadline:
                    raise AssertionError(f"worker not idle in {timeout}s: {waiting} waiting")
                time.sleep(0.05)

    def _waiting(self) -> int:
        """Messages not yet delivered and alert requests not yet processed (a workspace whose
        request was costly waits for a later tick: the jobs report no work meanwhile)."""
        undelivered = OutboxMessage.status.in_([MessageStatus.PENDING, MessageStatus.SENDING])
        with self.live.session_factory() as session:
            messages = session.scalar(select(func.count()).where(undelivered)) or 0
            requests = (
                session.scalar(
                    select(func.count()).where(AlertRequest.state == RequestState.PENDING)
                )
                or 0
            )
        return messages + requests

    def cli(self, *args: str) -> str:
        """Run ``provider …`` as a subprocess against the app's database; its output."""
        env = dict(os.environ)
        env.update(
            DATABASE_URL=self.live.settings.database_url,
            SECRET_KEY=TEST_SECRET_KEY,
            BASE_URL=self.url,
            LOG_LEVEL="WARNING",
            FORGE_API_HOSTS="127.0.0.1",
        )
        done = subprocess.run(
            [sys.executable, "-m", "provider.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def api(self, key: str, method: str, path: str, **kw: Any) -> requests.Response:
        headers = {"Authorization": f"GenieKey {key}", **kw.pop("headers", {})}
        return self.http.request(method, self.url + path, headers=headers, timeout=10, **kw)


@pytest.fixture(params=["connect", "forge"])
def install_way(request: pytest.FixtureRequest) -> str:
    """How the sites install the app: a Connect descriptor, or the Forge way."""
    way: str = request.param
    return way


@pytest.fixture
def sim(install_way: str) -> Iterator[Simulator]:
    # Forge's tokens are taken on the REST APIs, as they will be once the probe passes.
    with Simulator(
        sites=("acme", "globex"), seed=11, accept_forge_tokens=install_way == "forge"
    ) as simulator:
        yield simulator


@contextmanager
def running_stack(database_url: str, sim: Simulator, **overrides: object) -> Iterator[Stack]:
    """The app serving on loopback for as long as the block runs."""
    server, live = start_app(database_url, sim, **overrides)
    try:
        yield Stack(live)
    finally:
        server.shutdown()
        server.server_close()
        live.session_factory.kw["bind"].dispose()


@pytest.fixture
def stack(fresh_database_url: str, sim: Simulator) -> Iterator[Stack]:
    with running_stack(fresh_database_url, sim) as running:
        yield running
