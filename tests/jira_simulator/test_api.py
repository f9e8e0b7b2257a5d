"""The Operations and DevOps Components endpoints: schemas, limits, sequence numbers, deletes."""

from __future__ import annotations

import pytest

from jira_simulator import Simulator
from tests.jira_simulator.helpers import AppSigner
from tests.jira_simulator.helpers import component
from tests.jira_simulator.helpers import incident
from tests.jira_simulator.helpers import review
from tests.jira_simulator.test_auth import assert_jira_error

OPS = "/rest/operations/1.0"
COMPONENTS = "/rest/devopscomponents/1.0"


def test_incidents_are_stored_and_readable(app_client: AppSigner, installed: Simulator) -> None:
    sent = incident(
        associations=[{"associationType": "issueIdOrKeys", "values": ["OPS-1", "NOPE-7", "10042"]}]
    )
    response = app_client.post(
        f"{OPS}/bulk", {"incidents": [sent], "properties": {"workspaceId": "ws-1"}}
    )

    assert response.status_code == 202
    assert response.json() == {
        "acceptedIncidents": ["inc-1"],
        "failedIncidents": {},
        "unknownProjectKeys": ["NOPE"],
    }
    assert app_client.get(f"{OPS}/incidents/inc-1").json() == sent
    state = installed.state("acme")
    assert state["incidents"] == {"inc-1": sent}
    assert state["properties"]["incidents"] == {"inc-1": {"workspaceId": "ws-1"}}
    assert installed.accepted_payloads("acme") == [("incidents", sent)]


def test_reviews_answer_with_the_documented_incident_fields(
    app_client: AppSigner, installed: Simulator
) -> None:
    response = app_client.post(f"{OPS}/bulk", {"reviews": [review()]})

    assert response.status_code == 202
    assert response.json()["acceptedIncidents"] == ["pir-1"]
    assert app_client.get(f"{OPS}/post-incident-reviews/pir-1").json()["status"] == "in progress"
    assert installed.state("acme")["incidents"] == {}


def test_components_are_stored_and_readable(app_client: AppSigner, installed: Simulator) -> None:
    response = app_client.post(f"{COMPONENTS}/bulk", {"devopsComponents": [component()]})

    assert response.status_code == 202
    assert response.json() == {
        "acceptedComponents": ["svc-1"],
        "failedComponents": {},
        "unknownProjectKeys": [],
    }
    assert app_client.get(f"{COMPONENTS}/devopscomponents/svc-1").json()["name"] == "checkout-api"
    assert installed.counters()["bulk_requests"] == {"devopsComponents": 1}


def test_component_ids_with_slashes_are_addressed_encoded(app_client: AppSigner) -> None:
    app_client.post(f"{COMPONENTS}/bulk", {"devopsComponents": [component("ws-1/svc-1")]})

    found = app_client.get(f"{COMPONENTS}/devopscomponents/ws-1%2Fsvc-1")

    assert found.status_code == 200
    assert found.json()["id"] == "ws-1/svc-1"


def test_bad_entity_fails_alone(app_client: AppSigner, installed: Simulator) -> None:
    bad_status = incident("inc-bad", status="burning")
    extra_field = incident("inc-extra", colour="red")
    bad_date = incident("inc-date", createdDate="yesterday")
    no_id = {k: v for k, v in incident().items() if k != "id"}
    body = {"incidents": [incident("inc-ok"), bad_status, extra_field, bad_date, no_id]}

    response = app_client.post(f"{OPS}/bulk", body)

    assert response.status_code == 202
    result = response.json()
    assert result["acceptedIncidents"] == ["inc-ok"]
    assert set(result["failedIncidents"]) == {"inc-bad", "inc-extra", "inc-date", "[4]"}
    for errors in result["failedIncidents"].values():
        assert errors[0]["message"]
    assert list(installed.state("acme")["incidents"]) == ["inc-ok"]
    assert installed.counters()["entities"]["incidents"] == {"accepted": 1, "failed": 4}


@pytest.mark.parametrize(
    "body",
    [
        [],
        "incidents",
        {},
        {"incidents": []},
        {"incidents": "inc-1"},
        {"incidents": [incident()], "reviews": [review()]},
        {"incidents": [incident()], "surprise": 1},
        {"incidents": [incident()], "properties": {"_private": "x"}},
        {"incidents": [incident()], "properties": {"a:b": "x"}},
        {"incidents": [incident()], "properties": {"k": "x" * 256}},
        {"incidents": [incident()], "properties": {f"k{i}": "v" for i in range(6)}},
        {"incidents": [incident()], "providerMetadata": {"product": "x", "user": "me"}},
        {"components": [component()]},
    ],
)
def test_malformed_operations_request_is_400(
    app_client: AppSigner, installed: Simulator, body: object
) -> None:
    assert_jira_error(app_client.post(f"{OPS}/bulk", body), 400)
    assert installed.state("acme")["incidents"] == {}


def test_invalid_json_is_400(app_client: AppSigner) -> None:
    token = app_client.token("POST", f"{OPS}/bulk")
    response = app_client.http.post(
        app_client.url(f"{OPS}/bulk"),
        data=b"{not json",
        headers={"Authorization": f"JWT {token}", "Content-Type": "application/json"},
        timeout=5,
    )

    assert_jira_error(response, 400)


def test_seed_example_with_components_key_is_400(app_client: AppSigner) -> None:
    assert_jira_error(app_client.post(f"{COMPONENTS}/bulk", {"components": [component()]}), 400)


def test_more_than_1000_entities_is_400(app_client: AppSigner) -> None:
    many = [incident(f"inc-{i}") for i in range(1001)]

    assert_jira_error(app_client.post(f"{OPS}/bulk", {"incidents": many}), 400)
    assert app_client.post(f"{OPS}/bulk", {"incidents": many[:1000]}).status_code == 202


def test_configured_entity_limit_answers_413(sim: Simulator, recording_url: str) -> None:
    sim.max_entities = 10
    sim.install("acme", f"{recording_url}/atlassian-connect.json")
    client = AppSigner(sim, "acme")
    many = [component(f"svc-{i}") for i in range(11)]

    assert_jira_error(client.post(f"{COMPONENTS}/bulk", {"devopsComponents": many}), 413)
    assert client.post(f"{COMPONENTS}/bulk", {"devopsComponents": many[:10]}).status_code == 202


def test_equal_or_lower_sequence_number_is_dropped_silently(
    app_client: AppSigner, installed: Simulator
) -> None:
    app_client.post(f"{OPS}/bulk", {"incidents": [incident(usn=5, summary="v5")]})

    same = app_client.post(f"{OPS}/bulk", {"incidents": [incident(usn=5, summary="again")]})
    lower = app_client.post(f"{OPS}/bulk", {"incidents": [incident(usn=4, summary="older")]})
    higher = app_client.post(f"{OPS}/bulk", {"incidents": [incident(usn=6, summary="v6")]})

    for response in (same, lower):
        assert response.status_code == 202
        assert response.json()["acceptedIncidents"] == []
        assert response.json()["failedIncidents"] == {}
    assert higher.json()["acceptedIncidents"] == ["inc-1"]
    assert installed.state("acme")["incidents"]["inc-1"]["summary"] == "v6"
    assert installed.usn_history("acme", "incidents", "inc-1") == [5, 5, 4, 6]
    assert installed.counters()["entities"]["incidents"] == {"accepted": 2, "dropped": 2}


def test_delete_by_properties_ands_the_parameters(
    app_client: AppSigner, installed: Simulator
) -> None:
    app_client.post(
        f"{OPS}/bulk",
        {"incidents": [incident("a")], "properties": {"workspaceId": "w1", "team": "x"}},
    )
    app_client.post(
        f"{OPS}/bulk",
        {"incidents": [incident("b")], "properties": {"workspaceId": "w1", "team": "y"}},
    )
    app_client.post(
        f"{OPS}/bulk", {"reviews": [review("r")], "properties": {"workspaceId": "w1", "team": "x"}}
    )
    app_client.post(
        f"{COMPONENTS}/bulk",
        {"devopsComponents": [component("c")], "properties": {"workspaceId": "w1", "team": "x"}},
    )

    response = app_client.delete(f"{OPS}/bulkByProperties", query="workspaceId=w1&team=x")

    assert response.status_code == 202
    state = installed.state("acme")
    assert list(state["incidents"]) == ["b"]
    assert state["reviews"] == {}
    assert list(state["components"]) == ["c"]
    assert app_client.delete(f"{COMPONENTS}/bulkByProperties", query="team=x").status_code == 202
    assert installed.state("acme")["components"] == {}


def test_delete_by_properties_without_parameters_is_400(app_client: AppSigner) -> None:
    assert_jira_error(app_client.delete(f"{OPS}/bulkByProperties"), 400)
    assert_jira_error(app_client.delete(f"{COMPONENTS}/bulkByProperties"), 400)


def test_get_and_delete_by_id(app_client: AppSigner, installed: Simulator) -> None:
    app_client.post(f"{OPS}/bulk", {"incidents": [incident()]})
    app_client.post(f"{OPS}/bulk", {"reviews": [review()]})
    app_client.post(f"{COMPONENTS}/bulk", {"devopsComponents": [component()]})

    for path in (
        f"{OPS}/incidents/inc-1",
        f"{OPS}/post-incident-reviews/pir-1",
        f"{COMPONENTS}/devopscomponents/svc-1",
    ):
        assert app_client.get(path).status_code == 200
        assert app_client.delete(path).status_code == 202
        assert_jira_error(app_client.get(path), 404)
    state = installed.state("acme")
    assert (state["incidents"], state["reviews"], state["components"]) == ({}, {}, {})


def test_ids_longer_than_255_are_400(app_client: AppSigner) -> None:
    assert_jira_error(app_client.get(f"{OPS}/incidents/{'x' * 256}"), 400)


def test_linked_workspaces(app_client: AppSigner, installed: Simulator) -> None:
    submitted = app_client.post(
        f"{OPS}/linkedWorkspaces/bulk", {"workspaceIds": ["w1", "w2", "w1"]}
    )
    app_client.post(f"{OPS}/linkedWorkspaces/bulk", {"workspaceIds": ["w2", "w3"]})

    assert submitted.status_code == 202
    assert submitted.json() == {"acceptedWorkspaceIds": ["w1", "w2"]}
    assert app_client.get(f"{OPS}/linkedWorkspaces").json() == {"workspaceIds": ["w1", "w2", "w3"]}
    assert app_client.get(f"{OPS}/linkedWorkspaces", query="workspaceId=w2").json() == {
        "workspaceIds": ["w2"]
    }
    assert_jira_error(app_client.get(f"{OPS}/linkedWorkspaces", query="workspaceId=w9"), 404)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"workspaceIds": []},
        {"workspaceIds": [""]},
        {"workspaceIds": [f"w{i}" for i in range(101)]},
        {"workspaceIds": "w1"},
    ],
)
def test_bad_linked_workspaces_are_400(app_client: AppSigner, body: object) -> None:
    assert_jira_error(app_client.post(f"{OPS}/linkedWorkspaces/bulk", body), 400)


def test_deleting_a_linked_workspace_removes_its_data(
    app_client: AppSigner, installed: Simulator
) -> None:
    app_client.post(f"{OPS}/linkedWorkspaces/bulk", {"workspaceIds": ["w1", "w2"]})
    for ws in ("w1", "w2"):
        props = {"workspaceId": ws}
        app_client.post(f"{OPS}/bulk", {"incidents": [incident(f"inc-{ws}")], "properties": props})
        app_client.post(f"{OPS}/bulk", {"reviews": [review(f"pir-{ws}")], "properties": props})
        app_client.post(
            f"{COMPONENTS}/bulk",
            {"devopsComponents": [component(f"svc-{ws}")], "properties": props},
        )

    response = app_client.delete(f"{OPS}/linkedWorkspaces/bulk", query="workspaceIds=w1,w9")

    assert response.status_code == 202
    state = installed.state("acme")
    assert state["linkedWorkspaces"] == ["w2"]
    assert list(state["incidents"]) == ["inc-w2"]
    assert list(state["reviews"]) == ["pir-w2"]
    assert list(state["components"]) == ["svc-w2"]
    assert_jira_error(app_client.delete(f"{OPS}/linkedWorkspaces/bulk"), 400)


def test_sites_are_isolated(installed: Simulator, recording_url: str) -> None:
    installed.install("globex", f"{recording_url}/atlassian-connect.json")
    AppSigner(installed, "acme").post(f"{OPS}/bulk", {"incidents": [incident()]})

    assert list(installed.state("acme")["incidents"]) == ["inc-1"]
    assert installed.state("globex")["incidents"] == {}
    assert_jira_error(AppSigner(installed, "globex").get(f"{OPS}/incidents/inc-1"), 404)


def test_uninstall_wipes_the_sites_data(app_client: AppSigner, installed: Simulator) -> None:
    app_client.post(f"{OPS}/bulk", {"incidents": [incident()]})
    app_client.post(f"{OPS}/linkedWorkspaces/bulk", {"workspaceIds": ["w1"]})

    installed.uninstall("acme")

    state = installed.state("acme")
    assert state["incidents"] == {}
    assert state["linkedWorkspaces"] == []
