"""Incidents two-way with Jira issues, over real HTTP with the simulator's Jira.

Incidents comment on their linked issues and transition them where the workspace asks; an issue
resolved in Jira puts a note on the incident (and resolves it where the workspace asks); the
issue webhooks are JWT-verified, and a site only ever reaches its own workspaces' incidents.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from sqlalchemy import select

from jira_simulator import Simulator
from provider.connect.jwt import sign_hs256
from provider.ops.incidents.models import EventKind
from provider.ops.incidents.models import Incident
from provider.ops.incidents.models import IncidentEvent
from tests.e2e.conftest import Stack

WEBHOOK = "/jira/issue-events"


@pytest.fixture
def install_way() -> str:
    return "connect"


def _workspace(stack: Stack, site_key: str, name: str) -> dict[str, Any]:
    ws = json.loads(stack.cli("workspaces", "create", "--name", name))
    stack.cli("workspaces", "link", "--client-key", site_key, "--link-code", ws["linkCode"])
    return dict(ws)


def _incident(stack: Stack, key: str, summary: str, issues: list[str]) -> str:
    r = stack.api(
        key,
        "POST",
        "/v1/incidents",
        json={"summary": summary, "severity": "P2", "issueKeys": issues},
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _texts(comment: dict[str, Any]) -> str:
    return "".join(n.get("text", "") for p in comment["content"] for n in p["content"])


def _timeline(stack: Stack, incident_id: str) -> list[tuple[EventKind, str]]:
    with stack.live.session_factory() as session:
        incident = session.scalars(select(Incident).where(Incident.public_id == incident_id)).one()
        rows = session.scalars(
            select(IncidentEvent)
            .where(IncidentEvent.incident_id == incident.id)
            .order_by(IncidentEvent.id)
        )
        return [(r.kind, r.text) for r in rows]


def _status(stack: Stack, key: str, incident_id: str) -> str:
    return str(stack.api(key, "GET", f"/v1/incidents/{incident_id}").json()["status"])


@pytest.fixture
def linked(stack: Stack, sim: Simulator) -> dict[str, Any]:
    """Two workspaces on acme (one asks for "Done" on resolve), issues in acme's Jira."""
    for site in ("acme", "globex"):
        assert sim.install(site, f"{stack.url}/atlassian-connect.json").ok
    for key in ("OPS-1", "OPS-2", "OPS-3", "OPS-4"):
        sim.add_issue("acme", key, f"Issue {key}")
    acme = sim.site("acme").client_key
    asks = _workspace(stack, acme, "Payments")
    quiet = _workspace(stack, acme, "Search")
    r = stack.api(
        asks["apiKey"],
        "PUT",
        "/v1/incident-issue-sync",
        json={"transitions": {"resolved": "done"}, "resolveOnIssueDone": True},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "comment": True,
        "transitions": {"resolved": "done"},
        "resolveOnIssueDone": True,
    }
    first = _incident(stack, asks["apiKey"], "Checkout down", ["OPS-1", "OPS-2"])
    second = _incident(stack, quiet["apiKey"], "Search slow", ["OPS-3", "OPS-4"])
    stack.run_worker()
    return {"asks": asks, "quiet": quiet, "first": first, "second": second}


def test_resolving_comments_on_every_linked_issue_and_transitions_where_asked(
    stack: Stack, sim: Simulator, linked: dict[str, Any]
) -> None:
    # Opening told every linked issue.
    for key in ("OPS-1", "OPS-2", "OPS-3", "OPS-4"):
        comments = sim.issue("acme", key)["comments"]
        assert len(comments) == 1
        assert "Incident opened" in _texts(comments[0])
    for ws, incident in (("asks", "first"), ("quiet", "second")):
        r = stack.api(linked[ws]["apiKey"], "POST", f"/v1/incidents/{linked[incident]}/resolve")
        assert r.status_code == 200, r.text
    stack.run_worker()

    for key in ("OPS-1", "OPS-2", "OPS-3", "OPS-4"):
        issue = sim.issue("acme", key)
        assert len(issue["comments"]) == 2, key
        last = issue["comments"][-1]
        assert last["type"] == "doc"
        assert last["version"] == 1
        assert "Incident resolved" in _texts(last)
        link = last["content"][0]["content"][-1]["marks"][0]["attrs"]["href"]
        assert link.startswith(f"{stack.url}/incidents/")
    # Only the workspace that asked moved its issues; the other's stay where they were.
    assert [sim.issue("acme", k)["status"] for k in ("OPS-1", "OPS-2")] == ["Done", "Done"]
    assert [sim.issue("acme", k)["status"] for k in ("OPS-3", "OPS-4")] == ["To Do", "To Do"]
    # Each delivery is on the timeline with its outcome.
    texts = [t for kind, t in _timeline(stack, linked["first"]) if kind is EventKind.DELIVERY]
    assert any("Update of issue OPS-1 on 127.0.0.1" in t and ": done" in t for t in texts), texts


def test_an_issue_resolved_in_jira_notes_and_resolves_the_incident_that_asks(
    stack: Stack, sim: Simulator, linked: dict[str, Any]
) -> None:
    for response in sim.move_issue("acme", "OPS-1", "Done"):
        assert response.status_code == 204, response.text
    for response in sim.move_issue("acme", "OPS-3", "Done"):
        assert response.status_code == 204, response.text
    first = _timeline(stack, linked["first"])
    assert (
        EventKind.ISSUE_EVENT,
        "Jira issue OPS-1 was resolved in Jira (from To Do to Done)",
    ) in first
    assert (EventKind.RESOLVED, "Incident resolved: OPS-1 was resolved in Jira") in first
    assert _status(stack, linked["asks"]["apiKey"], linked["first"]) == "resolved"
    # The other workspace did not ask: a note, and the incident stays open.
    second = _timeline(stack, linked["second"])
    assert (
        EventKind.ISSUE_EVENT,
        "Jira issue OPS-3 was resolved in Jira (from To Do to Done)",
    ) in second
    assert _status(stack, linked["quiet"]["apiKey"], linked["second"]) == "open"

    # Reopened in Jira: another note.
    sim.move_issue("acme", "OPS-3", "In Progress")
    assert (
        EventKind.ISSUE_EVENT,
        "Jira issue OPS-3 was reopened in Jira (from Done to In Progress)",
    ) in _timeline(stack, linked["second"])

    # The resolution reached the issues: OPS-2 transitioned, OPS-1 (already Done) left alone.
    stack.run_worker()
    assert sim.issue("acme", "OPS-2")["status"] == "Done"
    assert sim.issue("acme", "OPS-1")["transitions"] == []


def _post(stack: Stack, body: dict[str, Any], token: str | None) -> requests.Response:
    headers = {"Authorization": f"JWT {token}"} if token else {}
    return stack.http.post(stack.url + WEBHOOK, json=body, headers=headers, timeout=10)


def test_forged_or_unsigned_webhooks_are_refused_and_change_nothing(
    stack: Stack, sim: Simulator, linked: dict[str, Any]
) -> None:
    site = sim.site("acme")
    sim.add_issue("acme", "OPS-1")  # reset its status to To Do without telling the app
    before = _timeline(stack, linked["first"])
    body = sim.issue_webhook_body("acme", "OPS-1", "In Progress")
    body["issue"]["fields"]["status"] = {"name": "Done", "statusCategory": {"key": "done"}}
    url = stack.url + WEBHOOK
    forged = {
        "unsigned": None,
        "wrong secret": sign_hs256(
            iss=site.client_key,
            secret="not-the-secret-" * 3,
            method="POST",
            url=url,
            base_url=stack.url,
        ),
        "other request": sign_hs256(
            iss=site.client_key,
            secret=site.shared_secret or "",
            method="POST",
            url=stack.url + "/components/associate",
            base_url=stack.url,
        ),
        "unknown site": sign_hs256(
            iss="jira:unknown",
            secret=site.shared_secret or "",
            method="POST",
            url=url,
            base_url=stack.url,
        ),
        "expired": sign_hs256(
            iss=site.client_key,
            secret=site.shared_secret or "",
            method="POST",
            url=url,
            base_url=stack.url,
            now=1_600_000_000,
        ),
    }
    for name, token in forged.items():
        r = _post(stack, body, token)
        assert r.status_code == 401, (name, r.text)
        assert r.json()["errors"][0]["code"], name
    assert _timeline(stack, linked["first"]) == before
    assert _status(stack, linked["asks"]["apiKey"], linked["first"]) == "open"

    # The same body, signed as the site signs it, is taken; a malformed one is a 400.
    def signed() -> str:
        return sign_hs256(
            iss=site.client_key,
            secret=site.shared_secret or "",
            method="POST",
            url=url,
            base_url=stack.url,
        )

    assert _post(stack, body, signed()).status_code == 204
    assert _status(stack, linked["asks"]["apiKey"], linked["first"]) == "resolved"
    r = _post(stack, {"webhookEvent": "jira:issue_updated", "issue": {"key": 12}}, signed())
    assert r.status_code == 400, r.text


def test_another_sites_issue_webhooks_never_reach_this_workspaces_incidents(
    stack: Stack, sim: Simulator, linked: dict[str, Any]
) -> None:
    # globex has its own OPS-1 and a workspace whose incident links it.
    sim.add_issue("globex", "OPS-1")
    theirs_ws = _workspace(stack, sim.site("globex").client_key, "Globex ops")
    theirs = _incident(stack, theirs_ws["apiKey"], "Globex outage", ["OPS-1"])
    before = _timeline(stack, linked["first"])

    for response in sim.move_issue("globex", "OPS-1", "Done"):
        assert response.status_code == 204, response.text
    assert _timeline(stack, linked["first"]) == before
    assert _status(stack, linked["asks"]["apiKey"], linked["first"]) == "open"
    assert any(
        kind is EventKind.ISSUE_EVENT and "OPS-1 was resolved" in text
        for kind, text in _timeline(stack, theirs)
    )
    # And acme's comments stayed on acme: globex's OPS-1 heard only of its own incident.
    stack.run_worker()
    assert all("Globex outage" in _texts(c) for c in sim.issue("globex", "OPS-1")["comments"])
    assert all("Globex outage" not in _texts(c) for c in sim.issue("acme", "OPS-1")["comments"])


def test_what_jira_refuses_is_on_the_timeline_with_its_reason(
    stack: Stack, sim: Simulator, linked: dict[str, Any]
) -> None:
    key = linked["quiet"]["apiKey"]
    r = stack.api(
        key, "PUT", "/v1/incident-issue-sync", json={"transitions": {"resolved": "Closed"}}
    )
    assert r.status_code == 200, r.text
    r = stack.api(
        key, "PATCH", f"/v1/incidents/{linked['second']}", json={"issueKeys": ["OPS-3", "OPS-99"]}
    )
    assert r.status_code == 200, r.text
    stack.api(key, "POST", f"/v1/incidents/{linked['second']}/resolve")
    stack.run_worker()
    deliveries = [t for kind, t in _timeline(stack, linked["second"]) if kind is EventKind.DELIVERY]
    assert any(
        "Update of issue OPS-3" in t and "failed" in t and "offers no transition 'Closed'" in t
        for t in deliveries
    ), deliveries
    assert any("Update of issue OPS-99" in t and "failed" in t for t in deliveries), deliveries
    # The comment was made before the transition was refused; the status stayed.
    assert sim.issue("acme", "OPS-3")["status"] == "To Do"
    assert "Incident resolved" in _texts(sim.issue("acme", "OPS-3")["comments"][-1])
