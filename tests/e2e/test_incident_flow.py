"""The incident flow from end to end, over real HTTP, as a site and an operator would meet it.

Jira is the local simulator (two sites, one of which never links anything); the app is served on
a loopback port; workspaces are made and linked with the command line; the worker's jobs are the
ones ``provider worker`` runs. It runs twice: with the sites installing the app as a Connect app,
and the Forge way, where Jira calls the app with Forge Invocation Tokens and, once the
administrator has probed the site and switched it, the app calls Jira with Forge's system token.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from sqlalchemy import select

from jira_simulator import Simulator
from provider.ops.components.models import Component
from provider.ops.components.models import ComponentAssociation
from tests.e2e.conftest import Stack
from tests.ops.contract import contract_errors

SCHEMA_OF = {
    "incidents": "incident.json",
    "reviews": "review.json",
    "devopsComponents": "component.json",
}
ALWAYS = {"conditionMatchType": "match-all", "conditions": []}


def _when(field: str, value: str) -> dict[str, Any]:
    return {
        "conditionMatchType": "match-all-conditions",
        "conditions": [{"field": field, "operation": "equals", "expectedValue": value}],
    }


def _action(kind: str, name: str, filter_: dict[str, Any]) -> dict[str, Any]:
    # Monitoring-tool shaped events: the alert fields come from the payload by template; tags and
    # extra properties are kept from the payload itself (the create action's defaults).
    mappings: dict[str, Any] = {"alias": "{{check.id}}", "note": "{{state}}"}
    if kind == "create":
        mappings |= {
            "message": "{{check.title}}",
            "priority": "{{check.priority}}",
            "entity": "{{check.host}}",
        }
    return {
        "type": kind,
        "name": name,
        "domain": "alert",
        "direction": "incoming",
        "filter": filter_,
        "typeSpecificProperties": {},
        "fieldMappings": mappings,
        "actionMapping": {"type": "<string>", "parameter": {}},
        "enabled": True,
    }


def _event(stack: Stack, integration: dict[str, Any], state: str, **check: Any) -> dict[str, Any]:
    body = {"state": state, "check": check, "tags": check.pop("tags", [])}
    r = stack.api(
        integration["apiKey"], "POST", f"/v1/integrations/{integration['id']}/events", json=body
    )
    assert r.status_code == 202, r.text
    return r.json()


def _request_status(stack: Stack, key: str, request_id: str) -> dict[str, Any]:
    r = stack.api(key, "GET", f"/v1/alerts/requests/{request_id}")
    assert r.status_code == 200, r.text
    return r.json()


def _setup_workspace(stack: Stack) -> dict[str, Any]:
    """A workspace (CLI), two components and an integration with create and close actions (API)."""
    ws = json.loads(stack.cli("workspaces", "create", "--name", "Payments"))
    key = ws["apiKey"]
    components = {}
    for name in ("Database", "Checkout"):
        r = stack.api(key, "POST", "/v1/components", json={"name": name, "tier": "Tier 1"})
        assert r.status_code == 201, r.text
        components[name] = r.json()
    r = stack.api(key, "POST", "/v1/integrations", json={"name": "Monitoring", "type": "Webhook"})
    assert r.status_code == 201, r.text
    integration = r.json()
    actions = f"/v1/integrations/{integration['id']}/actions"
    for kind, name, when in (
        ("ignore", "drop tests", _when("state", "test")),
        ("create", "open on firing", _when("state", "firing")),
        ("close", "close on resolved", _when("state", "resolved")),
    ):
        r = stack.api(key, "POST", actions, json=_action(kind, name, when))
        assert r.status_code == 200, r.text
    return {**ws, "components": components, "integration": integration}


def _switch_to_forge(stack: Stack, sim: Simulator, client_key: str) -> None:
    """What an administrator does: probe the site with the app's Forge token, then switch."""
    probed = stack.cli("forge-probe", "--site", client_key)
    assert probed.count("accepted") == 4, probed
    stack.cli("installations", "set-auth", "--site", client_key, "forge")
    # The probe's requests are meant to be answered 400 and 404; they are not the app's pushes.
    sim.reset()


def test_an_alert_becomes_an_incident_in_jira_and_a_review_follows(
    stack: Stack, sim: Simulator, install_way: str
) -> None:
    forge = install_way == "forge"
    for site in ("acme", "globex"):
        installed = sim.install(site, f"{stack.url}/atlassian-connect.json", forge=forge)
        assert installed.ok, {k: (r.status_code, r.text) for k, r in installed.responses.items()}
    acme_key = sim.site("acme").client_key
    if forge:
        _switch_to_forge(stack, sim, acme_key)
    ws = _setup_workspace(stack)
    key, database, checkout = (
        ws["apiKey"],
        ws["components"]["Database"],
        ws["components"]["Checkout"],
    )

    # Linking needs the link code: the site gets the workspace, then its components.
    linked = stack.cli(
        "workspaces", "link", "--client-key", acme_key, "--link-code", ws["linkCode"]
    )
    assert ws["id"] in linked
    stack.run_worker()
    state = sim.state("acme")
    assert state["linkedWorkspaces"] == [ws["id"]]
    assert {database["id"], checkout["id"]} <= set(state["components"])
    assert state["components"][database["id"]]["name"] == "Database"

    # Jira's component picker and association notices reach the linked workspace's components.
    found = sim.search_containers("acme", "data", workspace_id=ws["id"])
    assert found.status_code == 200, found.text
    assert [c["id"] for c in found.json()["containers"]] == [database["id"]]
    noticed = sim.on_entity_associated("acme", database["id"], "10000")
    assert noticed.status_code in (200, 204), noticed.text
    with stack.live.session_factory() as session:
        rows = session.execute(
            select(ComponentAssociation.entity_id, Component.public_id).join(
                Component, Component.id == ComponentAssociation.component_id
            )
        ).all()
    assert [tuple(row) for row in rows] == [("10000", database["id"])]

    # A P1 event naming a component and a Jira issue opens an incident there.
    integration = ws["integration"]
    opened = _event(
        stack,
        integration,
        "firing",
        id="db-primary-down",
        title="Primary database is down",
        priority="P1",
        host="db-1.internal",
        tags=["component:Database", "jira:OPS-12"],
    )
    stack.run_worker()
    status = _request_status(stack, key, opened["requestId"])
    assert status["isSuccess"] is True, status
    incidents = stack.api(key, "GET", "/v1/incidents").json()["values"]
    assert len(incidents) == 1
    incident_id = incidents[0]["id"]
    in_jira = sim.state("acme")["incidents"][incident_id]
    assert in_jira["affectedComponents"] == [database["id"]]
    assert in_jira["severity"] == {"level": "P1"}
    assert in_jira["status"] == "open"
    assert in_jira["associations"] == [{"associationType": "issueIdOrKeys", "values": ["OPS-12"]}]
    assert in_jira["url"] == f"{stack.url}/incidents/{incident_id}"
    assert sim.state("acme")["properties"]["incidents"][incident_id] == {"workspaceId": ws["id"]}
    # The links Jira shows lead somewhere: the incident page (behind sign-in) and the avatars.
    page = stack.http.get(in_jira["url"], allow_redirects=False, timeout=10)
    assert page.status_code == 303
    assert "/reviews/sign-in?next=" in page.headers["Location"]
    avatar = stack.http.get(
        sim.state("acme")["components"][database["id"]]["avatarUrl"], timeout=10
    )
    assert avatar.status_code == 200
    assert avatar.headers["Content-Type"].startswith("image/svg+xml")

    # A test event is ignored; closing the alert resolves the incident in Jira.
    _event(stack, integration, "test", id="db-primary-down", title="x", priority="P1")
    closed = _event(stack, integration, "resolved", id="db-primary-down")
    stack.run_worker()
    assert _request_status(stack, key, closed["requestId"])["isSuccess"] is True
    assert sim.state("acme")["incidents"][incident_id]["status"] == "resolved"

    # A review written through the API names the incident in Jira.
    r = stack.api(
        key,
        "POST",
        "/v1/reviews",
        json={"incidentIds": [incident_id], "summary": "Why the primary went down"},
    )
    assert r.status_code == 201, r.text
    review = r.json()
    stack.run_worker()
    in_jira = sim.state("acme")["reviews"][review["id"]]
    assert in_jira["reviews"] == [incident_id]
    assert in_jira["summary"] == "Why the primary went down"

    # What Jira holds is sound: components on every incident, sequence numbers only rising,
    # every accepted payload valid against the contract.
    state = sim.state("acme")
    assert state["incidents"]
    for entity_id, incident in state["incidents"].items():
        assert incident["affectedComponents"], entity_id
        history = sim.usn_history("acme", "incidents", entity_id)
        assert len(history) >= 2
        assert all(a < b for a, b in itertools.pairwise(history)), history
    accepted = sim.accepted_payloads("acme")
    assert {kind for kind, _ in accepted} == set(SCHEMA_OF)
    for kind, payload in accepted:
        assert contract_errors(SCHEMA_OF[kind], payload) == [], (kind, payload)

    # The other site never linked the workspace: it received nothing and sees nothing.
    _assert_globex_sees_nothing(sim, {**ws, "url": stack.url}, database["id"])

    # Unlinking removes the linked workspace and everything tagged with it.
    stack.cli("workspaces", "unlink", "--client-key", acme_key, "--workspace", ws["id"])
    stack.run_worker()
    state = sim.state("acme")
    assert state["linkedWorkspaces"] == []
    assert state["components"] == {}
    assert state["incidents"] == {}
    assert state["reviews"] == {}
    after = sim.search_containers("acme", "data")
    assert after.status_code == 200
    assert after.json()["containers"] == []

    # Jira rejected none of the app's calls, and took them all with the credential chosen.
    for site in ("acme", "globex"):
        counters = sim.counters()["sites"].get(site, {})
        assert counters.get("rejected_auth", 0) == 0, counters
        for endpoint, statuses in counters.get("requests", {}).items():
            assert not {"400", "401", "403"} & set(statuses), (site, endpoint, statuses)
    by_auth = sim.counters()["sites"]["acme"]["requests_by_auth"]
    assert set(by_auth) == {"forge" if forge else "jwt"}, by_auth


def _assert_globex_sees_nothing(sim: Simulator, ws: dict[str, Any], component_id: str) -> None:
    state = sim.state("globex")
    assert state["linkedWorkspaces"] == []
    assert state["components"] == state["incidents"] == state["reviews"] == {}
    assert sim.accepted_payloads("globex") == []
    fetched = sim.fetch_workspaces("globex", [ws["id"]])
    assert fetched.status_code == 200, fetched.text
    assert fetched.json().get("workspaces", []) == []
    searched = sim.search_containers("globex", "", workspace_id=ws["id"])
    assert searched.status_code == 200
    assert searched.json()["containers"] == []
    assert sim.search_containers("globex", "data").json()["containers"] == []
    noticed = sim.on_entity_associated("globex", component_id, "10000")
    assert noticed.status_code == 404, noticed.text
    associated = sim.associate("globex", f"{ws['url']}/components/{component_id}")
    assert associated.status_code == 404, associated.text
