from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker
from werkzeug.serving import make_server
from werkzeug.test import TestResponse

from provider.app import create_app
from provider.config import Settings
from provider.db import make_engine
from provider.db import make_session_factory
from provider.ops.alerts.processing import process_pending
from provider.ops.workspaces.models import Workspace
from provider.ops.workspaces.service import create_workspace
from provider.worker import alert_listeners
from tests.signing import JiraSigner


@dataclass
class Api:
    """A client bound to one workspace key: ``api.post("/v1/alerts", json=…)``."""

    client: FlaskClient
    workspace: Workspace
    key: str
    session_factory: sessionmaker[Session]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"GenieKey {self.key}"}

    def call(self, method: str, path: str, **kwargs: Any) -> TestResponse:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> TestResponse:
        return self.call("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> TestResponse:
        return self.call("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> TestResponse:
        return self.call("DELETE", path, **kwargs)

    @contextlib.contextmanager
    def statements_on(self, table: str, *, reads: bool = False) -> Iterator[list[str]]:
        """The statements that write ``table`` (or, with ``reads``, read it) while the block
        runs."""
        seen: list[str] = []

        def record(_c: Any, _cur: Any, statement: str, *_args: Any) -> None:
            if table in statement and statement.lstrip().startswith("SELECT") == reads:
                seen.append(statement)

        bind = self.session_factory.kw["bind"]
        event.listen(bind, "before_cursor_execute", record)
        try:
            yield seen
        finally:
            event.remove(bind, "before_cursor_execute", record)

    def process(self) -> int:
        """Apply pending alert requests as the worker does, with its listeners."""
        listeners = alert_listeners()
        return process_pending(self.session_factory, listeners=listeners, limit=10_000)

    def create_alert(self, **body: Any) -> dict[str, Any]:
        """Create an alert and process it; returns the alert as the API shows it."""
        body.setdefault("message", "something broke")
        response = self.post("/v1/alerts", json=body)
        assert response.status_code == 202, response.get_json()
        self.process()
        status = self.get(f"/v1/alerts/requests/{response.get_json()['requestId']}").get_json()
        assert status["isSuccess"], status
        alert = self.get(f"/v1/alerts/{status['alertId']}")
        assert alert.status_code == 200
        return alert.get_json()


def make_api(
    client: FlaskClient, session: Session, session_factory: sessionmaker[Session], name: str
) -> Api:
    workspace, key, _code = create_workspace(session, name)
    session.commit()
    return Api(client, workspace, key, session_factory)


@pytest.fixture
def api(client: FlaskClient, session: Session, session_factory: sessionmaker[Session]) -> Api:
    return make_api(client, session, session_factory, "Team A")


@pytest.fixture
def other_api(client: FlaskClient, session: Session, session_factory: sessionmaker[Session]) -> Api:
    return make_api(client, session, session_factory, "Team B")


@pytest.fixture
def live(
    settings: Settings, fresh_database_url: str
) -> Iterator[tuple[str, sessionmaker[Session]]]:
    """The app served over loopback by a threaded server, on a database of its own."""
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


@pytest.fixture
def signer(settings: Settings) -> JiraSigner:
    return JiraSigner(app_base_url=settings.base_url)
