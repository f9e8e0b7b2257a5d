"""The /v1 incidents, reviews, incident-rules and component-mappings endpoints."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.ops.lang import filter_schemas
from provider.ops.workspaces import linking
from provider.outbox.models import OutboxMessage
from tests.ops.conftest import Api
from tests.ops.contract import contract_errors
from tests.ops.incident_factories import make_component
from tests.ops.incident_factories import make_installation


def _p1(api: Api, **kw: object) -> dict:
    api.create_alert(message="Checkout down", priority="P1", **kw)
    [incident] = api.get("/v1/incidents").get_json()["values"]
    return incident


def test_incident_list_get_update_resolve(api: Api, session: Session) -> None:
    checkout = make_component(session, api.workspace, "checkout")
    session.commit()
    incident = _p1(api, entity="checkout", note="first")
    assert incident["componentIds"] == [checkout.public_id]
    got = api.get(f"/v1/incidents/{incident['id']}").get_json()
    assert [a["priority"] for a in got["alerts"]] == ["P1"]
    assert got["severityRaisedBy"] == got["alerts"][0]["id"]

    r = api.patch(
        f"/v1/incidents/{incident['id']}",
        json={"summary": "Checkout outage", "issueKeys": ["OPS-1"], "description": "We know."},
    )
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["summary"] == "Checkout outage"
    assert r.get_json()["issueKeys"] == ["OPS-1"]

    r = api.post(f"/v1/incidents/{incident['id']}/resolve")
    assert r.get_json()["status"] == "resolved"
    assert api.get("/v1/incidents?status=open").get_json()["count"] == 0
    assert api.get("/v1/incidents?status=resolved").get_json()["count"] == 1
    assert api.get("/v1/incidents?status=bogus").status_code == 422


def test_incident_created_by_hand_lands_on_fallback_and_is_pushed(
    api: Api, session: Session
) -> None:
    inst = make_installation(session)
    linking.link_workspace(session, inst, api_key=api.key)
    session.commit()
    r = api.post("/v1/incidents", json={"summary": "Manual one", "severity": "P2"})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert len(body["componentIds"]) == 1
    assert body["resolvePolicy"] == "manual"
    [msg] = session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.kind == "incident", OutboxMessage.entity_id == body["id"]
        )
    ).all()
    assert contract_errors("incident.json", msg.payload) == []


def test_reviews_prefilled_and_status_moves_forward_only(api: Api, session: Session) -> None:
    inst = make_installation(session)
    linking.link_workspace(session, inst, api_key=api.key)
    session.commit()
    incident = _p1(api)
    r = api.post("/v1/reviews", json={"incidentIds": [incident["id"]]})
    assert r.status_code == 201, r.get_json()
    review = r.get_json()
    assert review["status"] == "in progress"
    assert "First seen" in review["description"]
    assert "Alerts: 1" in review["description"]
    r = api.patch(f"/v1/reviews/{review['id']}", json={"status": "outstanding actions"})
    assert r.status_code == 200
    assert (
        api.patch(f"/v1/reviews/{review['id']}", json={"status": "in progress"}).status_code == 409
    )
    assert api.patch(f"/v1/reviews/{review['id']}", json={"status": "completed"}).status_code == 200
    [msg] = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "review")).all()
    assert contract_errors("review.json", msg.payload) == []
    assert msg.payload["reviews"] == [incident["id"]]
    assert msg.payload["status"] == "completed"
    assert api.get("/v1/reviews").get_json()["count"] == 1


def test_rules_change_promotion(api: Api) -> None:
    r = api.post(
        "/v1/incident-rules",
        json={
            "name": "quiet staging",
            "action": "suppress",
            "filter": {
                "conditionMatchType": "match-all-conditions",
                "conditions": [
                    {"field": "tags", "operation": "contains", "expectedValue": "staging"}
                ],
            },
        },
    )
    assert r.status_code == 201, r.get_json()
    r = api.post("/v1/incident-rules", json={"name": "P1-P3 at once", "minPriority": "P3"})
    assert r.status_code == 201
    listed = api.get("/v1/incident-rules").get_json()
    assert [v["name"] for v in listed["values"]] == ["quiet staging", "P1-P3 at once"]

    api.create_alert(message="staging down", priority="P1", tags=["staging"], alias="s")
    assert api.get("/v1/incidents").get_json()["count"] == 0
    api.create_alert(message="prod slow", priority="P3", alias="p")
    assert api.get("/v1/incidents").get_json()["count"] == 1


def test_a_batch_parses_each_rule_filter_once(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Finding a saved filter's parsed form serialises it; a workspace's rules were consulted
    that way on every change, outside the pattern budget. A batch parses each filter once."""
    for name in ("quiet staging", "quiet canary"):
        body = {
            "name": name,
            "action": "suppress",
            "filter": {
                "conditionMatchType": "match-all-conditions",
                "conditions": [
                    {"field": "tags", "operation": "contains", "expectedValue": name.split()[1]}
                ],
            },
        }
        assert api.post("/v1/incident-rules", json=body).status_code == 201
    at_once = {"name": "P1 at once", "minPriority": "P1"}
    assert api.post("/v1/incident-rules", json=at_once).status_code == 201
    parsed: list[object] = []
    real = filter_schemas.stored_filter

    def counting(raw: object) -> object:
        parsed.append(raw)
        return real(raw)  # type: ignore[arg-type]

    monkeypatch.setattr(filter_schemas, "stored_filter", counting)
    for n in range(6):
        body = {"message": f"m{n}", "alias": f"a{n % 3}", "priority": "P1", "tags": ["canary"]}
        assert api.post("/v1/alerts", json=body).status_code == 202
    assert api.process() == 6  # one batch

    assert len(parsed) == 2, parsed  # each rule's filter once, for six changes
    # the first rule lets them by, the second suppresses them
    assert api.get("/v1/incidents").get_json()["count"] == 0
    api.create_alert(message="prod down", priority="P1", alias="prod")
    assert api.get("/v1/incidents").get_json()["count"] == 1


def test_component_mappings_route_alerts(api: Api, session: Session) -> None:
    db = make_component(session, api.workspace, "database")
    session.commit()
    r = api.post(
        "/v1/component-mappings",
        json={"type": "entityRegex", "value": r"^db-\d+$", "componentId": db.public_id},
    )
    assert r.status_code == 201, r.get_json()
    incident = _p1(api, entity="db-42")
    assert incident["componentIds"] == [db.public_id]
    assert api.get("/v1/component-mappings").get_json()["count"] == 1


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/incident-rules", {"name": "x", "minPriority": "P9"}),
        ("/v1/incident-rules", {"name": "x", "filter": {"conditionMatchType": "nope"}}),
        ("/v1/incident-rules", {"name": "x", "countThreshold": "3"}),
        ("/v1/incident-rules", {}),
        ("/v1/component-mappings", {"type": "entityRegex", "value": "(", "componentId": "c"}),
        ("/v1/component-mappings", {"type": "extraProperty", "value": "v", "componentId": "c"}),
        ("/v1/component-mappings", {"type": "weird", "value": "v", "componentId": "c"}),
        ("/v1/incidents", {"summary": ""}),
        ("/v1/incidents", {"summary": "x" * 300}),
        ("/v1/incidents", {"summary": "x", "componentIds": "c"}),
        ("/v1/reviews", {"incidentIds": []}),
        ("/v1/reviews", {"incidentIds": ["x"], "status": "open"}),
    ],
)
def test_malformed_bodies_are_422(api: Api, path: str, body: dict) -> None:
    r = api.post(path, json=body)
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["errors"][0]["code"] == "validation_failed"


@pytest.mark.parametrize("raw", ["", "{", "[]", "null", '"x"'])
def test_non_object_bodies_are_4xx(api: Api, raw: str) -> None:
    for path in ("/v1/incidents", "/v1/reviews", "/v1/incident-rules", "/v1/component-mappings"):
        r = api.post(path, data=raw, headers={"Content-Type": "application/json"})
        assert r.status_code in (400, 422), (path, raw, r.status_code)


def test_another_workspace_never_reaches_these_resources(
    api: Api, other_api: Api, session: Session
) -> None:
    comp = make_component(session, api.workspace, "checkout")
    session.commit()
    incident = _p1(api)
    review = api.post("/v1/reviews", json={"incidentIds": [incident["id"]]}).get_json()
    rule = api.post("/v1/incident-rules", json={"name": "r"}).get_json()
    mapping = api.post(
        "/v1/component-mappings",
        json={"type": "entity", "value": "x", "componentId": comp.public_id},
    ).get_json()

    assert other_api.get(f"/v1/incidents/{incident['id']}").status_code == 404
    assert (
        other_api.patch(f"/v1/incidents/{incident['id']}", json={"summary": "x"}).status_code == 404
    )
    assert other_api.post(f"/v1/incidents/{incident['id']}/resolve").status_code == 404
    assert other_api.get(f"/v1/reviews/{review['id']}").status_code == 404
    assert other_api.post("/v1/reviews", json={"incidentIds": [incident["id"]]}).status_code == 404
    assert other_api.get(f"/v1/incident-rules/{rule['id']}").status_code == 404
    assert other_api.delete(f"/v1/component-mappings/{mapping['id']}").status_code == 404
    r = other_api.post(
        "/v1/component-mappings",
        json={"type": "entity", "value": "x", "componentId": comp.public_id},
    )
    assert r.status_code == 404
    r = other_api.post("/v1/incidents", json={"summary": "steal", "alertIds": [incident["id"]]})
    assert r.status_code == 404
    assert other_api.get("/v1/incidents").get_json()["count"] == 0
    assert api.get(f"/v1/incidents/{incident['id']}").get_json()["status"] == "open"


def test_no_key_is_401(client) -> None:  # type: ignore[no-untyped-def]
    for path in ("/v1/incidents", "/v1/reviews", "/v1/incident-rules", "/v1/component-mappings"):
        r = client.get(path)
        assert r.status_code == 401
        assert r.get_json()["errors"][0]["code"]


@pytest.mark.parametrize(
    ("path", "body", "title"),
    [
        ("/v1/reviews", {}, "incidentIds must name at least one incident"),
        ("/v1/reviews", {"incidentIds": None}, "incidentIds must name at least one incident"),
        ("/v1/incidents", {"summary": None}, "summary is required"),
        ("/v1/incidents", {"summary": " "}, "summary must not be empty"),
        (
            "/v1/incidents",
            {"summary": "s", "componentIds": "c"},
            "componentIds must be a list of strings",
        ),
        (
            "/v1/incident-rules",
            {"name": "x", "minPriority": "P9"},
            "minPriority must be one of: P1, P2, P3, P4, P5",
        ),
        (
            "/v1/incident-rules",
            {"name": "x", "unacknowledgedForSeconds": 7 * 24 * 3600 + 1},
            "unacknowledgedForSeconds must be at most 604800",
        ),
        (
            "/v1/incident-rules",
            {"name": "x", "filter": {"conditionMatchType": "nope"}},
            "filter.conditionMatchType must be one of: match-all, match-any-condition, "
            "match-all-conditions",
        ),
        (
            "/v1/component-mappings",
            {"type": "weird", "value": "v", "componentId": "c"},
            "type must be one of: entity, tag, extraProperty, entityRegex",
        ),
        (
            "/v1/component-mappings",
            {"type": "entity", "value": "", "componentId": "c"},
            "value must not be empty",
        ),
        (
            "/v1/component-mappings",
            {"type": "extraProperty", "value": "v", "componentId": "c"},
            "key is required for an extraProperty mapping",
        ),
        (
            "/v1/component-mappings",
            {"type": "entity", "value": "v", "componentId": "c", "order": 10**20},
            "order must be at most 2147483647",
        ),
    ],
)
def test_validation_errors_name_the_field_as_sent(
    api: Api, path: str, body: dict, title: str
) -> None:
    r = api.post(path, json=body)
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["errors"][0]["title"] == title


def test_text_no_database_stores_is_400(api: Api) -> None:
    r = api.post(
        "/v1/incidents", data='{"summary": "\\ud800"}', headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400
    assert r.get_json()["errors"][0]["code"] == "invalid_characters"


def test_null_clears_a_rules_filter_and_thresholds_only(api: Api) -> None:
    rule = api.post(
        "/v1/incident-rules",
        json={
            "name": "noisy",
            "minPriority": "P2",
            "countThreshold": 3,
            "unacknowledgedForSeconds": 60,
            "filter": {
                "conditionMatchType": "match-any-condition",
                "conditions": [{"field": "message", "operation": "contains", "expectedValue": 5}],
            },
        },
    ).get_json()
    assert rule["filter"]["conditions"][0]["expectedValue"] == "5"

    r = api.patch(
        f"/v1/incident-rules/{rule['id']}",
        json={
            "name": None,
            "minPriority": None,
            "countThreshold": None,
            "unacknowledgedForSeconds": None,
            "filter": None,
        },
    )
    assert r.status_code == 200, r.get_json()
    updated = r.get_json()
    assert (updated["name"], updated["minPriority"]) == ("noisy", "P2")
    assert updated["countThreshold"] is None
    assert updated["unacknowledgedForSeconds"] is None
    assert updated["filter"]["conditionMatchType"] == "match-all"


def test_mapping_values_are_taken_as_sent_and_rechecked_when_the_type_changes(
    api: Api, session: Session
) -> None:
    db = make_component(session, api.workspace, "database")
    session.commit()
    mapping = api.post(
        "/v1/component-mappings", json={"type": "entity", "value": "(", "componentId": db.public_id}
    ).get_json()
    assert "key" not in mapping

    blank = api.post(
        "/v1/component-mappings", json={"type": "tag", "value": " ", "componentId": db.public_id}
    )
    assert blank.status_code == 201
    assert blank.get_json()["value"] == " "

    r = api.patch(f"/v1/component-mappings/{mapping['id']}", json={"type": "entityRegex"})

    assert r.status_code == 422
    assert r.get_json()["errors"][0]["title"].startswith("value is not a valid regular expression")


def test_alerts_show_on_one_incident_not_in_lists(api: Api) -> None:
    incident = _p1(api)
    assert "alerts" not in incident
    assert api.get("/v1/incidents?status=").get_json()["count"] == 1
    alerts = api.get(f"/v1/incidents/{incident['id']}/alerts").get_json()
    assert alerts["count"] == 1
    assert alerts["links"] == {}
    assert api.get(f"/v1/incidents/{incident['id']}").get_json()["alerts"] == alerts["values"]
