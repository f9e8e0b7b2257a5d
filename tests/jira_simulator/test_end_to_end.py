"""The real app, served on loopback, installed by the simulator and called the way Jira calls it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from jira_simulator import Simulator
from jira_simulator.validation import check_action_response
from provider.app import create_app
from provider.connect.models import Installation
from provider.db import make_engine
from provider.db import make_session_factory
from tests.conftest import make_settings
from tests.ops.factories import link
from tests.ops.factories import make_component
from tests.ops.factories import make_workspace


@pytest.fixture
def live_app(sim: Simulator, fresh_database_url: str) -> Iterator[Any]:
    """The provider on a free port; its settings point at the simulator's key server."""
    holder: dict[str, Any] = {}
    # The app's base URL needs the port, and the port is known only once the server is bound.
    server = make_server(
        "127.0.0.1", 0, lambda env, start: holder["app"](env, start), threaded=True
    )
    url = f"http://127.0.0.1:{server.server_port}"
    settings = make_settings(
        fresh_database_url,
        base_url=url,
        install_keys_url=sim.keys_url,
        allowed_jira_hosts=("127.0.0.1",),
    )
    engine = make_engine(fresh_database_url)
    holder["factory"] = make_session_factory(engine)
    holder["app"] = create_app(settings, session_factory=holder["factory"], configure_logs=False)
    holder["settings"] = settings
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield holder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
        engine.dispose()


def test_simulator_installs_the_real_app_and_calls_its_actions(
    sim: Simulator, live_app: dict[str, Any]
) -> None:
    settings = live_app["settings"]
    result = sim.install("acme", f"{settings.base_url}/atlassian-connect.json")

    assert result.ok, {k: (r.status_code, r.text) for k, r in result.responses.items()}
    site = sim.site("acme")
    with live_app["factory"]() as session:
        installation = session.scalar(
            select(Installation).where(Installation.client_key == site.client_key)
        )
        assert installation is not None
        assert installation.base_url == site.base_url
        assert installation.active
        workspace = make_workspace(session, "Payments")
        link(session, installation, workspace)
        component = make_component(session, workspace, "checkout")
        session.commit()
        workspace_id, component_id = workspace.public_id, component.public_id

    workspaces = sim.fetch_workspaces("acme", [workspace_id, "not-linked"])
    containers = sim.search_containers("acme", "check", workspace_id=workspace_id)
    everything = sim.search_containers("acme", "")
    associated = sim.on_entity_associated("acme", component_id, "10000")

    assert workspaces.status_code == 200, workspaces.text
    assert [w["id"] for w in workspaces.json()["workspaces"]] == [workspace_id]
    assert check_action_response("FetchWorkspacesResponse", workspaces.json()) == []
    assert containers.status_code == 200, containers.text
    assert [c["id"] for c in containers.json()["containers"]] == [component_id]
    assert check_action_response("SearchContainersResponse", containers.json()) == []
    assert everything.status_code == 200
    assert associated.status_code in (200, 204), associated.text


def test_the_app_rejects_a_site_that_is_not_the_installed_one(
    sim: Simulator, live_app: dict[str, Any]
) -> None:
    settings = live_app["settings"]
    sim.install("acme", f"{settings.base_url}/atlassian-connect.json")
    # A second site that never installed the app borrows acme's app object and a made-up secret.
    globex = sim.site("globex")
    with sim.world.lock:
        globex.app = sim.site("acme").app
        globex.shared_secret = "a-secret-jira-never-gave-the-app-0123456789"
        globex.state = "enabled"

    response = sim.fetch_workspaces("globex", ["anything"])

    assert response.status_code == 401
    assert set(response.json()) == {"errors"}


def test_unsigned_install_is_refused_by_the_app(sim: Simulator, live_app: dict[str, Any]) -> None:
    result = sim.install(
        "acme", f"{live_app['settings'].base_url}/atlassian-connect.json", sign=False
    )

    assert result["installed"].status_code == 401
    assert sim.state("acme")["state"] == "new"
