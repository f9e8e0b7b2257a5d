"""Jira's calls to the app's actions and admin page: signed HS256 with the site's secret."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from jira_simulator import Simulator
from jira_simulator import SimulatorError
from provider.connect.jwt import RequestTarget
from provider.connect.jwt import verify_host_jwt
from tests.jira_simulator.helpers import Recorded
from tests.jira_simulator.helpers import RecordingApp


def _claims(sim: Simulator, recorded: Recorded, token: str | None = None) -> dict:  # type: ignore[type-arg]
    site = sim.site("acme")
    if token is None:
        token = recorded.headers["Authorization"].removeprefix("JWT ")
    path, _, query = recorded.raw_uri.partition("?")
    return verify_host_jwt(
        token,
        RequestTarget(recorded.method, path, query),
        secret=site.shared_secret,
    )


def test_fetch_workspaces(installed: Simulator, recording: RecordingApp) -> None:
    response = installed.fetch_workspaces("acme", ["ws-1", "ws-2"])

    assert response.status_code == 200
    call = recording.last("/workspaces/list")
    assert call.method == "POST"
    assert call.body == {"ids": ["ws-1", "ws-2"]}
    claims = _claims(installed, call)
    assert claims["iss"] == installed.site("acme").client_key
    assert claims["sub"] == installed.site("acme").account_id


def test_search_containers_signs_the_query(installed: Simulator, recording: RecordingApp) -> None:
    installed.search_containers("acme", "check out & more", workspace_id="ws 1")

    call = recording.last("/containers/search")
    assert call.method == "GET"
    query = parse_qs(call.raw_uri.partition("?")[2])
    assert query == {"searchQuery": ["check out & more"], "workspaceId": ["ws 1"]}
    _claims(installed, call)


def test_associate_and_disassociate(installed: Simulator, recording: RecordingApp) -> None:
    installed.associate("acme", "https://ops.example.com/components/svc-1")
    installed.disassociate("acme", "svc-1")

    site = installed.site("acme")
    associate = recording.last("/components/associate")
    assert associate.method == "POST"
    assert parse_qs(associate.raw_uri.partition("?")[2]) == {"userId": [site.account_id]}
    assert associate.body["entity"] == {"url": "https://ops.example.com/components/svc-1"}
    assert associate.body["associateWith"]["ati"] == "ati:cloud:jira:issue"
    assert associate.body["associateWith"]["cloudId"] == site.cloud_id
    _claims(installed, associate)
    disassociate = recording.last("/components/disassociate")
    assert disassociate.body["entity"]["id"] == "svc-1"
    assert "disassociateFrom" in disassociate.body
    _claims(installed, disassociate)


def test_entity_association_events(installed: Simulator, recording: RecordingApp) -> None:
    installed.on_entity_associated("acme", "svc-1", "10000")
    installed.on_entity_disassociated("acme", "svc-1", "10000", method="POST")

    site = installed.site("acme")
    associated = recording.last("/components/on-entity-associated")
    assert associated.method == "PUT"
    assert associated.body["entity"]["id"] == "svc-1"
    assert associated.body["associatedWith"] == {
        "ati": "ati:cloud:jira:project",
        "ari": f"ari:cloud:jira:{site.cloud_id}:project/10000",
        "cloudId": site.cloud_id,
        "id": "10000",
    }
    assert associated.body["user"] == {"id": site.account_id}
    _claims(installed, associated)
    disassociated = recording.last("/components/on-entity-disassociated")
    assert disassociated.method == "POST"
    assert disassociated.body["disassociatedFrom"]["id"] == "10000"
    _claims(installed, disassociated)


def test_admin_page_carries_jwt_and_context_params(
    installed: Simulator, recording: RecordingApp
) -> None:
    response = installed.open_admin_page("acme")

    assert response.status_code == 200
    call = recording.last("/admin")
    query = parse_qs(call.raw_uri.partition("?")[2])
    assert {"jwt", "xdm_e", "xdm_c", "cp", "lic", "tz", "loc"} <= set(query)
    assert query["cp"] == ["/sites/acme"]
    assert "Authorization" not in call.headers
    claims = _claims(installed, call, token=query["jwt"][0])
    assert claims["iss"] == installed.site("acme").client_key


def test_actions_need_an_installed_app(sim: Simulator) -> None:
    with pytest.raises(SimulatorError):
        sim.fetch_workspaces("acme", ["ws-1"])
    with pytest.raises(SimulatorError):
        sim.search_containers("nowhere", "x")


def test_missing_action_raises(sim: Simulator) -> None:
    from tests.jira_simulator.helpers import ServerThread

    recording = RecordingApp(modules=False)
    with ServerThread(recording.wsgi()) as server:
        sim.install("acme", f"{server.url}/atlassian-connect.json")
        with pytest.raises(SimulatorError):
            sim.fetch_workspaces("acme", ["ws-1"])
