"""The app over real HTTP on loopback, with a worker processing its alert requests, for the
monitoring tools and client libraries that talk to it as they would to Opsgenie."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import pytest
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker
from werkzeug.serving import make_server

from provider.app import create_app
from provider.db import make_engine
from provider.db import make_session_factory
from provider.ops.alerts.processing import process_pending
from provider.ops.workspaces.service import create_workspace
from provider.worker import alert_listeners
from tests.conftest import make_settings
from tests.databases import Databases


@dataclass
class Exchange:
    method: str
    path: str
    status: int


@dataclass
class RecordingApp:
    """WSGI: every request the app answered, with its status, as the client saw it."""

    app: Any
    seen: list[Exchange] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")

        def record(status: str, headers: Any, *args: Any) -> Any:
            self.seen.append(Exchange(method, path, int(status[:3])))
            return start_response(status, headers, *args)

        return self.app(environ, record)


@dataclass
class LiveOps:
    url: str
    key: str
    workspace_id: int
    session_factory: sessionmaker[Session]
    recording: RecordingApp


def _process_until(stop: threading.Event, factory: sessionmaker[Session]) -> None:
    # What the worker process does with alert requests, on a short beat.
    listeners = alert_listeners()
    while not stop.is_set():
        if process_pending(factory, listeners=listeners, limit=100) == 0:
            stop.wait(0.1)


@pytest.fixture(scope="module")
def live_ops(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveOps]:
    databases = Databases(tmp_path_factory.mktemp("client-databases"))
    url = databases.create()
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        workspace, key, _code = create_workspace(session, "Monitoring")
        workspace_id = workspace.id
    settings = make_settings(url, api_rate_limit_per_minute=100_000)
    recording = RecordingApp(create_app(settings, session_factory=factory, configure_logs=False))
    server = make_server("127.0.0.1", 0, recording, threaded=True)
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    stop = threading.Event()
    worker = threading.Thread(target=_process_until, args=(stop, factory))
    serving.start()
    worker.start()
    try:
        yield LiveOps(
            f"http://127.0.0.1:{server.server_port}", key, workspace_id, factory, recording
        )
    finally:
        stop.set()
        worker.join()
        server.shutdown()
        serving.join()
        engine.dispose()
        databases.drop_all()
