"""The incident console's actions over the app's test client: what each one records and sends,
and every way a request that should not act is refused with nothing changed."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.config import Settings
from provider.ops.incidents.models import EventKind
from provider.ops.incidents.models import Incident
from provider.ops.incidents.models import IncidentEvent
from provider.outbox.kinds import Kind
from provider.outbox.models import OutboxMessage
from tests.installs import make_installation
from tests.ops.conftest import Api
from tests.ops.factories import link
from tests.signing import JiraSigner
from tests.web.test_object_pages import HTTPS
from tests.web.test_object_pages import _get
from tests.web.test_object_pages import _sign_in


def _open(api: Api, **body: Any) -> str:
    r = api.post("/v1/incidents", json={"summary": "Checkout down", "severity": "P3", **body})
    assert r.status_code == 201, r.get_json()
    return str(r.get_json()["id"])


def _csrf(client: FlaskClient, target: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', _get(client, target).text)
    assert found
    return found.group(1)


def _act(client: FlaskClient, incident_id: str, action: str, **form: str) -> Any:
    target = f"/incidents/{incident_id}"
    if "csrf_token" not in form:
        form["csrf_token"] = _csrf(client, target)
    return client.post(f"{target}/{action}", data=form, base_url=HTTPS)


def _events(api: Api, incident_id: str) -> list[tuple[EventKind, str]]:
    with api.session_factory() as session:
        incident = session.scalars(select(Incident).where(Incident.public_id == incident_id)).one()
        rows = session.scalars(
            select(IncidentEvent)
            .where(IncidentEvent.incident_id == incident.id)
            .order_by(IncidentEvent.id)
        )
        return [(r.kind, r.text) for r in rows]


def _messages(api: Api, kind: str) -> list[OutboxMessage]:
    with api.session_factory() as session:
        return list(
            session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
            )
        )


@pytest.fixture
def signed_in(client: FlaskClient, api: Api, session: Session, settings: Settings) -> str:
    """An incident of a workspace linked to a site, and a browser signed in to the workspace."""
    signer = JiraSigner(app_base_url=settings.base_url)
    link(session, make_installation(session, signer), api.workspace)
    session.commit()
    incident_id = _open(api)
    _sign_in(client, api, f"/incidents/{incident_id}")
    return incident_id


def test_each_action_goes_on_the_timeline_and_to_jira(
    client: FlaskClient, api: Api, signed_in: str
) -> None:
    incident_id = signed_in
    steps = [
        ("acknowledge", {}, "acknowledged"),
        ("note", {"note": "  Rolled back  "}, "noted"),
        ("severity", {"severity": "P1", "cause": "customers affected"}, "severity"),
        ("link", {"issue": "ops-7"}, "linked"),
        ("note", {"note": "Second note"}, "noted"),
        ("unlink", {"issue": "OPS-7"}, "unlinked"),
        ("resolve", {}, "resolved"),
        ("acknowledge", {}, None),  # resolved: refused below
    ]
    for action, form, done in steps[:-1]:
        r = _act(client, incident_id, action, **form)
        assert r.status_code == 303, (action, r.text)
        assert r.headers["Location"].endswith(f"/incidents/{incident_id}?done={done}")
    page = _get(client, f"/incidents/{incident_id}?done=resolved").text
    assert "Incident resolved." in page
    assert [kind for kind, _ in _events(api, incident_id)] == [
        EventKind.OPENED,
        EventKind.ACKNOWLEDGED,
        EventKind.NOTE,
        EventKind.SEVERITY,
        EventKind.ISSUE_LINKED,
        EventKind.NOTE,
        EventKind.ISSUE_UNLINKED,
        EventKind.RESOLVED,
    ]
    texts = dict(_events(api, incident_id))
    assert texts[EventKind.SEVERITY] == (
        "Severity changed from P3 to P1: customers affected (a responder)"
    )
    # The incident went to the site with its last state; OPS-7 heard of what happened while linked.
    (incident_message,) = _messages(api, Kind.INCIDENT)
    assert incident_message.payload["status"] == "resolved"
    assert incident_message.payload["severity"] == {"level": "P1"}
    assert "Rolled back" in incident_message.payload["description"]
    issue_messages = _messages(api, Kind.ISSUE)
    assert [m.payload["issue"] for m in issue_messages] == ["OPS-7", "OPS-7"]
    assert "linked" in str(issue_messages[0].payload["comment"])
    assert "Second note" in str(issue_messages[1].payload["comment"])

    r = _act(client, incident_id, "acknowledge")
    assert r.status_code == 409
    assert "resolved" in r.text


@pytest.mark.parametrize(
    ("action", "form", "status", "message"),
    [
        ("severity", {"severity": "P9"}, 422, "severity must be one of P1"),
        ("severity", {"severity": ""}, 422, "severity must be one of P1"),
        ("note", {"note": "   "}, 422, "note is required"),
        ("note", {"note": "x" * 4001}, 422, "note must be at most 4000 characters"),
        ("link", {"issue": "not a key"}, 422, "must be a Jira issue key"),
        ("link", {"issue": "OPS-0"}, 422, "must be a Jira issue key"),
        ("link", {"issue": "A-1" + "1" * 300}, 422, "must be a Jira issue key"),
        ("unlink", {"issue": "<b>"}, 422, "must be a Jira issue key"),
    ],
)
def test_a_wrong_input_shows_the_page_again_with_the_reason_and_changes_nothing(
    client: FlaskClient,
    api: Api,
    signed_in: str,
    action: str,
    form: dict[str, str],
    status: int,
    message: str,
) -> None:
    before = _events(api, signed_in)
    r = _act(client, signed_in, action, **form)
    assert r.status_code == status
    assert r.headers["Content-Type"].startswith("text/html")
    assert message in r.text
    assert 'role="alert"' in r.text
    assert _events(api, signed_in) == before


def test_actions_need_the_forms_token_a_session_and_the_workspaces_incident(
    client: FlaskClient, api: Api, other_api: Api, signed_in: str
) -> None:
    before = _events(api, signed_in)
    target = f"/incidents/{signed_in}"
    # No token, or a wrong one: refused before anything is read.
    for form in ({}, {"csrf_token": "forged"}):
        r = client.post(f"{target}/acknowledge", data=form, base_url=HTTPS)
        assert r.status_code == 403
        assert r.get_json()["errors"][0]["code"] == "csrf_failed"
    # Another workspace's incident is unknown here.
    theirs = _open(other_api)
    r = _act(client, theirs, "resolve", csrf_token=_csrf(client, target))
    assert r.status_code == 404
    assert _events(other_api, theirs) == [
        (EventKind.OPENED, "Incident opened through the API (api-key)")
    ]
    # No such action; a NUL anywhere.
    assert _act(client, signed_in, "delete").status_code == 404
    assert _act(client, signed_in, "note", note="a\x00b").status_code == 400
    # Signed out: the same form token no longer acts.
    token = _csrf(client, target)
    client.post("/reviews/sign-out", data={"csrf_token": token}, base_url=HTTPS)
    r = _act(client, signed_in, "acknowledge", csrf_token=_csrf(client, "/reviews/sign-in"))
    assert r.status_code == 403
    assert r.get_json()["errors"][0]["code"] == "not_signed_in"
    assert _events(api, signed_in) == before


def test_the_live_part_refreshes_for_the_signed_in_workspace_only(
    client: FlaskClient, api: Api, other_api: Api, signed_in: str
) -> None:
    _act(client, signed_in, "note", note="Watching the error rate")
    r = _get(client, f"/incidents/{signed_in}/live")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    assert "Note from a responder: Watching the error rate" in r.text
    assert "<html" not in r.text
    assert r.headers["Cache-Control"] == "no-store"
    assert _get(client, f"/incidents/{_open(other_api)}/live").status_code == 404
    client.post(
        "/reviews/sign-out",
        data={"csrf_token": _csrf(client, f"/incidents/{signed_in}")},
        base_url=HTTPS,
    )
    assert _get(client, f"/incidents/{signed_in}/live").status_code == 403
