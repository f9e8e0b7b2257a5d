"""The /v1/integrations API, driven with the requests printed in the JSM seed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from provider.app import create_app
from provider.config import Settings
from provider.ops.integrations.models import IntegrationAction
from provider.outbox.models import OutboxMessage
from provider.outbox.webhooks import send_webhook
from tests.ops.conftest import Api

SEED_CREATE = {
    "type": "create",
    "name": "Create Alert2",
    "domain": "alert",
    "direction": "incoming",
    "groupType": "",
    "extraField": "",
    "filter": {"conditionsEmpty": True, "conditionMatchType": "match-all", "conditions": []},
    "typeSpecificProperties": {},
    "fieldMappings": {
        "note": "",
        "description": "{{message}}",
        "source": "Email",
        "message": "{{subject}}",
        "priority": "{{priority}}",
        "tags": [],
        "alias": "",
        "details": {"From": "{{from_address}}"},
        "user": "",
        "actions": [],
        "entity": "",
    },
    "actionMapping": {"type": "<string>", "parameter": {}},
    "enabled": True,
}
SEED_PATCH = {
    "name": "Updated action name",
    "enabled": False,
    "filter": {"conditionsEmpty": True, "conditionMatchType": "match-all", "conditions": []},
    "typeSpecificProperties": {},
    "fieldMappings": SEED_CREATE["fieldMappings"],
    "actionMapping": {"type": "<string>", "parameter": {}},
}
ACTION_KEYS = {
    "id",
    "type",
    "name",
    "domain",
    "direction",
    "filter",
    "typeSpecificProperties",
    "fieldMappings",
}


def new_integration(api: Api, **body: Any) -> dict[str, Any]:
    body.setdefault("name", "Mail")
    body.setdefault("type", "Email")
    response = api.post("/v1/integrations", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def as_integration(api: Api, key: str) -> Api:
    return Api(api.client, api.workspace, key, api.session_factory)


def test_seed_requests_get_the_documented_status_and_shape(api: Api) -> None:
    integration = new_integration(api)
    base = f"/v1/integrations/{integration['id']}/actions"

    created = api.post(base, json=SEED_CREATE)
    assert created.status_code == 200, created.get_json()
    action = created.get_json()
    assert set(action) >= ACTION_KEYS
    assert action["filter"]["conditionMatchType"] == "match-all"
    assert action["typeSpecificProperties"] == {
        "keepRespondersFromPayload": False,
        "appendAttachments": True,
        "keepTagsFromPayload": True,
        "keepActionsFromPayload": True,
        "keepExtraPropertiesFromPayload": True,
    }
    assert action["fieldMappings"]["details"] == {"From": "{{from_address}}"}

    listed = api.get(base)
    assert listed.status_code == 200
    body = listed.get_json()
    assert set(body) >= {"values", "links"}
    item = next(v for v in body["values"] if v["id"] == action["id"])
    assert set(item) >= {
        "id",
        "name",
        "type",
        "direction",
        "domain",
        "actionMappingType",
        "groupType",
    }

    got = api.get(f"{base}/{action['id']}")
    assert got.status_code == 200
    assert got.get_json() == action

    patched = api.patch(f"{base}/{action['id']}", json=SEED_PATCH)
    assert patched.status_code == 200
    assert patched.get_json()["name"] == "Updated action name"
    assert patched.get_json()["enabled"] is False

    default_id = next(v["id"] for v in body["values"] if v["id"] != action["id"])
    reordered = api.patch(f"{base}/{action['id']}/order", json={"successorId": default_id})
    assert reordered.status_code == 200
    assert [v["id"] for v in api.get(base).get_json()["values"]] == [action["id"], default_id]

    deleted = api.delete(f"{base}/{action['id']}")
    assert deleted.status_code == 200
    assert api.get(f"{base}/{action['id']}").status_code == 404


def test_list_filters_and_pagination(api: Api) -> None:
    integration = new_integration(api, name="Hooks", type="API")
    base = f"/v1/integrations/{integration['id']}/actions"
    for name in ("close it", "ack it"):
        kind = "close" if name.startswith("close") else "acknowledge"
        response = api.post(base, json={**SEED_CREATE, "type": kind, "name": name})
        assert response.status_code == 200
    everything = api.get(base).get_json()["values"]
    # Evaluation order: create (the default action) > close > acknowledge.
    assert [v["type"] for v in everything] == ["create", "close", "acknowledge"]
    only_close = api.get(base, query_string={"type": "close"}).get_json()["values"]
    assert [v["name"] for v in only_close] == ["close it"]
    page = api.get(base, query_string={"offset": 0, "size": 1}).get_json()
    assert len(page["values"]) == 1
    assert "offset=1" in page["links"]["next"]
    assert (
        api.get(base, query_string={"name": "ack it"}).get_json()["values"][0]["type"]
        == "acknowledge"
    )


def test_reorder_places_before_the_successor_or_last(api: Api) -> None:
    integration = new_integration(api, name="Order", type="Webhook")
    base = f"/v1/integrations/{integration['id']}/actions"
    ids = [api.post(base, json={**SEED_CREATE, "name": f"a{i}"}).get_json()["id"] for i in range(4)]
    assert api.patch(f"{base}/{ids[3]}/order", json={"successorId": ids[0]}).status_code == 200
    assert [v["id"] for v in api.get(base).get_json()["values"]] == [ids[3], ids[0], ids[1], ids[2]]
    assert api.patch(f"{base}/{ids[3]}/order", json={"successorId": ids[2]}).status_code == 200
    assert [v["id"] for v in api.get(base).get_json()["values"]] == [ids[0], ids[1], ids[3], ids[2]]
    assert api.patch(f"{base}/{ids[0]}/order", json={}).status_code == 200
    assert [v["id"] for v in api.get(base).get_json()["values"]] == [ids[1], ids[3], ids[2], ids[0]]
    # Many moves between the same neighbours keep working (ranks are respread when too close).
    for _ in range(15):
        assert api.patch(f"{base}/{ids[2]}/order", json={"successorId": ids[3]}).status_code == 200
        assert api.patch(f"{base}/{ids[3]}/order", json={"successorId": ids[2]}).status_code == 200
    assert [v["id"] for v in api.get(base).get_json()["values"]] == [ids[1], ids[3], ids[2], ids[0]]


@pytest.mark.parametrize(
    ("body", "status", "title"),
    [
        ({"successorId": "nope"}, 404, "Successor action does not exist"),
        ({"successorId": 5}, 422, "successorId must be an action id"),
        ("[]", 422, "must be a JSON object"),
    ],
)
def test_reorder_refuses_bad_successors(api: Api, body: Any, status: int, title: str) -> None:
    integration = new_integration(api, name="R", type="Webhook")
    base = f"/v1/integrations/{integration['id']}/actions"
    action_id = api.post(base, json=SEED_CREATE).get_json()["id"]
    kwargs = (
        {"data": body, "content_type": "application/json"}
        if isinstance(body, str)
        else {"json": body}
    )
    response = api.patch(f"{base}/{action_id}/order", **kwargs)
    assert response.status_code == status
    assert title in response.get_json()["errors"][0]["title"]


def test_reorder_refuses_a_successor_of_another_type(api: Api) -> None:
    integration = new_integration(api, name="T", type="API")
    base = f"/v1/integrations/{integration['id']}/actions"
    close_id = api.post(base, json={**SEED_CREATE, "type": "close"}).get_json()["id"]
    create_id = api.get(base, query_string={"type": "create"}).get_json()["values"][0]["id"]
    response = api.patch(f"{base}/{close_id}/order", json={"successorId": create_id})
    assert response.status_code == 422
    assert (
        "successorId must name an action of type close" in response.get_json()["errors"][0]["title"]
    )
    response = api.patch(f"{base}/{close_id}/order", json={"successorId": close_id})
    assert response.status_code == 422


INVALID_ACTIONS = [
    ({"name": None}, "name is required"),
    ({"type": "explode"}, "type must be one of ignore, create, close"),
    ({"domain": "incident"}, "domain must be alert"),
    ({"direction": "sideways"}, "direction must be one of"),
    ({"filter": None}, "filter is required"),
    (
        {"filter": {"conditionMatchType": "match-any-condition", "conditions": []}},
        "filter.conditions must not be empty",
    ),
    (
        {
            "filter": {
                "conditionMatchType": "match-all-conditions",
                "conditions": [
                    {"field": "priority", "operation": "contains", "expectedValue": "P1"}
                ],
            }
        },
        "operation contains is not valid for field priority",
    ),
    (
        {"fieldMappings": {"message": "{{ ''.__class__ }}"}},
        "fieldMappings.message: expected a field name",
    ),
    ({"fieldMappings": {"message": "{{subject.__init__}}"}}, "'__init__' is not allowed"),
    ({"fieldMappings": {"message": "{{subject.popen()}}"}}, "unknown method popen()"),
    ({"fieldMappings": {"tags": "a,b"}}, "fieldMappings.tags must be a list of at most 50 strings"),
    ({"fieldMappings": {"priority": "urgent"}}, "fieldMappings.priority must be P1..P5"),
    (
        {"fieldMappings": {"responders": [{"type": "robot", "id": "x"}]}},
        "fieldMappings.responders[0]",
    ),
    ({"fieldMappings": []}, "fieldMappings must be an object"),
    ({"typeSpecificProperties": {"keepTagsFromPayload": "yes"}}, "must be true or false"),
    ({"enabled": "yes"}, "enabled must be true or false"),
    ({"fieldMappings": {"message": "{{a}}" + "x" * 10_001}}, "longer than"),
]


@pytest.mark.parametrize(("change", "title"), INVALID_ACTIONS)
def test_invalid_actions_get_422_with_a_useful_title(
    api: Api, change: dict[str, Any], title: str
) -> None:
    integration = new_integration(api, name="V", type="API")
    body = {**SEED_CREATE, **change}
    body = {k: v for k, v in body.items() if v is not None}
    response = api.post(f"/v1/integrations/{integration['id']}/actions", json=body)
    assert response.status_code == 422, response.get_json()
    assert title in response.get_json()["errors"][0]["title"]
    actions = api.get(f"/v1/integrations/{integration['id']}/actions").get_json()["values"]
    assert len(actions) == 1  # only the default action: nothing was stored


def test_malformed_bodies_never_500(api: Api) -> None:
    integration = new_integration(api, name="M", type="API")
    base = f"/v1/integrations/{integration['id']}/actions"
    for body in ("{", "null", "[1]", '"text"', "1e999999"):
        for method in ("POST", "PATCH"):
            path = base if method == "POST" else f"{base}/x"
            response = api.call(method, path, data=body, content_type="application/json")
            assert response.status_code in (400, 404, 422), (method, body, response.status_code)
            assert response.get_json()["errors"][0]["title"]
    action_id = api.get(base).get_json()["values"][0]["id"]
    before = api.get(f"{base}/{action_id}").get_json()
    response = api.patch(f"{base}/{action_id}", json={"name": "", "filter": "x"})
    assert response.status_code == 422
    assert api.get(f"{base}/{action_id}").get_json() == before


# ---------------------------------------------------------------------------------------------
# Integrations and keys


def test_integration_crud_and_key_rotation(api: Api) -> None:
    created = new_integration(
        api,
        name="Prometheus",
        type="API",
        teamId="team-1",
        typeSpecificProperties={"allowWriteAccess": False, "custom": "x"},
    )
    assert created["apiKey"].startswith("opsint_")
    assert created["typeSpecificProperties"]["allowWriteAccess"] is False
    assert created["typeSpecificProperties"]["custom"] == "x"
    assert created["teamId"] == "team-1"
    path = f"/v1/integrations/{created['id']}"
    got = api.get(path).get_json()
    assert "apiKey" not in got
    assert api.get("/v1/integrations").get_json()["values"][0]["id"] == created["id"]

    assert api.post("/v1/integrations", json={"name": "Prometheus"}).status_code == 409
    patched = api.patch(path, json={"name": "Prom", "enabled": False, "allowReadAccess": False})
    assert patched.status_code == 200
    assert patched.get_json()["enabled"] is False
    assert patched.get_json()["typeSpecificProperties"]["allowReadAccess"] is False

    old_key = created["apiKey"]
    rotated = api.post(f"{path}/rotate-api-key")
    assert rotated.status_code == 200
    new_key = rotated.get_json()["apiKey"]
    assert new_key != old_key
    assert as_integration(api, old_key).get("/v1/alerts").status_code == 401

    assert api.delete(path).status_code == 200
    assert api.get(path).status_code == 404


@pytest.mark.parametrize(
    ("body", "title"),
    [
        ({}, "name is required"),
        ({"name": "x" * 251}, "name must be at most 250"),
        ({"name": "a", "typeSpecificProperties": []}, "typeSpecificProperties must be an object"),
        ({"name": "a", "allowWriteAccess": "no"}, "allowWriteAccess must be true or false"),
        ({"name": "a", "enabled": 1}, "enabled must be true or false"),
    ],
)
def test_invalid_integrations_get_422(api: Api, body: dict[str, Any], title: str) -> None:
    response = api.post("/v1/integrations", json=body)
    assert response.status_code == 422
    assert title in response.get_json()["errors"][0]["title"]


def test_another_workspace_sees_nothing(api: Api, other_api: Api) -> None:
    integration = new_integration(api)
    base = f"/v1/integrations/{integration['id']}"
    action_id = api.get(f"{base}/actions").get_json()["values"][0]["id"]
    attempts = [
        ("GET", base, None),
        ("PATCH", base, {"name": "stolen"}),
        ("DELETE", base, None),
        ("POST", f"{base}/rotate-api-key", None),
        ("GET", f"{base}/actions", None),
        ("POST", f"{base}/actions", SEED_CREATE),
        ("POST", f"{base}/actions/test", {"payload": {}}),
        ("GET", f"{base}/actions/{action_id}", None),
        ("PATCH", f"{base}/actions/{action_id}", {"name": "x"}),
        ("DELETE", f"{base}/actions/{action_id}", None),
        ("PATCH", f"{base}/actions/{action_id}/order", {"successorId": None}),
        ("POST", f"{base}/events", {"subject": "x"}),
    ]
    other_integration = new_integration(other_api, name="Theirs", type="API")
    intruders = [other_api, as_integration(other_api, other_integration["apiKey"])]
    for intruder in intruders:
        for method, path, body in attempts:
            response = intruder.call(method, path, json=body)
            assert response.status_code in (403, 404), (method, path, response.status_code)
            assert response.get_json()["errors"][0]["code"]
    assert other_api.get("/v1/integrations").get_json()["values"][0]["name"] == "Theirs"
    # Nothing of workspace A changed.
    assert api.get(base).get_json()["name"] == "Mail"
    assert len(api.get(f"{base}/actions").get_json()["values"]) == 1


def test_integration_key_configures_only_with_configuration_access(api: Api) -> None:
    plain = as_integration(api, new_integration(api, name="Plain", type="API")["apiKey"])
    response = plain.get("/v1/integrations")
    assert response.status_code == 403
    assert plain.post("/v1/integrations", json={"name": "x"}).status_code == 403

    admin = as_integration(
        api,
        new_integration(api, name="Admin", type="API", allowConfigurationAccess=True)["apiKey"],
    )
    assert admin.get("/v1/integrations").status_code == 200
    assert admin.post("/v1/integrations", json={"name": "Made by key"}).status_code == 201


def test_access_flags_limit_the_alert_api(api: Api) -> None:
    created = new_integration(
        api,
        name="ReadOnly",
        type="API",
        typeSpecificProperties={"allowWriteAccess": False, "allowDeleteAccess": False},
    )
    key = as_integration(api, created["apiKey"])
    assert key.get("/v1/alerts").status_code == 200
    assert key.post("/v1/alerts", json={"message": "m"}).status_code == 403

    no_read = as_integration(
        api, new_integration(api, name="WriteOnly", type="API", allowReadAccess=False)["apiKey"]
    )
    assert no_read.get("/v1/alerts").status_code == 403
    assert no_read.post("/v1/alerts", json={"message": "m"}).status_code == 202

    api.patch(f"/v1/integrations/{created['id']}", json={"enabled": False})
    assert key.get("/v1/alerts").status_code == 403


def test_alerts_made_with_an_integration_key_are_attributed_to_it(api: Api) -> None:
    created = new_integration(api, name="Grafana", type="Grafana")
    alert = as_integration(api, created["apiKey"]).create_alert(message="from grafana")
    assert alert["integrationName"] == "Grafana"
    assert alert["integrationType"] == "Grafana"


# ---------------------------------------------------------------------------------------------
# Events and dry runs


def send_event(
    api: Api, integration: dict[str, Any], payload: Any, **kwargs: Any
) -> dict[str, Any]:
    key = as_integration(api, integration["apiKey"])
    response = key.post(f"/v1/integrations/{integration['id']}/events", json=payload, **kwargs)
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["result"] == "Request will be processed"
    api.process()
    status = api.get(f"/v1/alerts/requests/{body['requestId']}")
    assert status.status_code == 200
    return status.get_json()


def test_seed_email_example_creates_the_documented_alert(api: Api) -> None:
    integration = new_integration(api)
    status = send_event(
        api,
        integration,
        {
            "subject": "Disk full on db02",
            "message": "Only 1% left on /var",
            "from_address": "nagios@example.com",
            "priority": "P2",
        },
    )
    assert status["isSuccess"] is True
    alert = api.get(f"/v1/alerts/{status['alertId']}").get_json()
    assert alert["message"] == "Disk full on db02"
    assert alert["description"] == "Only 1% left on /var"
    assert alert["source"] == "Email"
    assert alert["priority"] == "P2"
    assert alert["extraProperties"] == {"From": "nagios@example.com"}
    assert alert["integrationName"] == "Mail"


def test_mail_shaped_payloads_are_normalised(api: Api) -> None:
    integration = new_integration(api)
    status = send_event(
        api,
        integration,
        {"subject": "Backup failed", "from": "Backup Bot <backup@example.com>", "body": "exit 2"},
    )
    alert = api.get(f"/v1/alerts/{status['alertId']}").get_json()
    assert alert["message"] == "Backup failed"
    assert alert["description"] == "exit 2"
    assert alert["extraProperties"] == {"From": "backup@example.com"}


def test_events_run_ignore_create_close_with_dedup(api: Api) -> None:
    integration = new_integration(api, name="Hook", type="Webhook")
    base = f"/v1/integrations/{integration['id']}/actions"
    mappings = {
        "message": "{{alert.title}}",
        "alias": "{{alert.id}}",
        "priority": "P1",
        "note": "{{state}}",
    }
    api.post(
        base,
        json={
            **SEED_CREATE,
            "name": "drop tests",
            "type": "ignore",
            "filter": {
                "conditionMatchType": "match-any-condition",
                "conditions": [
                    {"field": "alert.title", "operation": "starts-with", "expectedValue": "TEST"}
                ],
            },
        },
    )
    api.post(
        base,
        json={
            **SEED_CREATE,
            "name": "open",
            "fieldMappings": mappings,
            "filter": {
                "conditionMatchType": "match-all-conditions",
                "conditions": [
                    {"field": "state", "operation": "equals", "expectedValue": "firing"}
                ],
            },
        },
    )
    api.post(
        base,
        json={
            **SEED_CREATE,
            "name": "resolve",
            "type": "close",
            "fieldMappings": mappings,
            "filter": {
                "conditionMatchType": "match-all-conditions",
                "conditions": [
                    {"field": "state", "operation": "equals", "expectedValue": "resolved"}
                ],
            },
        },
    )
    firing = {"state": "firing", "alert": {"id": "a-1", "title": "CPU high"}}
    first = send_event(api, integration, firing)
    assert first["isSuccess"] is True
    second = send_event(api, integration, firing)
    assert second["alertId"] == first["alertId"]  # same alias: de-duplicated, as on /v1/alerts
    assert api.get(f"/v1/alerts/{first['alertId']}").get_json()["count"] == 2

    ignored = send_event(
        api, integration, {"state": "firing", "alert": {"id": "t", "title": "TEST 1"}}
    )
    assert ignored["status"] == "Ignored by action 'drop tests'"
    assert ignored["processedAt"]

    closed = send_event(api, integration, {**firing, "state": "resolved"})
    assert closed["action"] == "Close"
    assert closed["isSuccess"] is True
    assert api.get(f"/v1/alerts/{first['alertId']}").get_json()["status"] == "closed"

    missing = send_event(
        api, integration, {"state": "resolved", "alert": {"id": "never", "title": "x"}}
    )
    assert missing["isSuccess"] is False
    assert missing["status"] == "Alert does not exist"

    nothing = send_event(api, integration, {"state": "pending", "alert": {"id": "z", "title": "x"}})
    assert nothing["status"] == "No matching action; ignored"


def test_event_authentication_and_malformed_payloads(api: Api) -> None:
    integration = new_integration(api, name="Auth", type="API")
    path = f"/v1/integrations/{integration['id']}/events"
    assert api.client.post(path, json={}).status_code == 401
    assert (
        api.client.post(path, json={}, headers={"Authorization": "GenieKey nope"}).status_code
        == 401
    )
    assert api.post(path, json={"message": "workspace key"}).status_code == 403
    other = new_integration(api, name="Other", type="API")
    assert as_integration(api, other["apiKey"]).post(path, json={}).status_code == 403
    key = as_integration(api, integration["apiKey"])
    for body in ("{", "", "\x00"):
        response = key.post(path, data=body, content_type="application/json")
        assert response.status_code == 400
        assert response.get_json()["errors"][0]["code"] == "invalid_json"
    # Any JSON at all is an event: a list or a string just matches nothing specific.
    for body in ([1, 2], "text", 3, {"deep": [[[[{"x": 1}]]]]}):
        response = key.post(path, json=body)
        assert response.status_code == 202, body
    api.patch(f"/v1/integrations/{integration['id']}", json={"enabled": False})
    response = key.post(path, json={"message": "m"})
    assert response.status_code == 403
    assert response.get_json()["errors"][0]["code"] == "integration_disabled"


def test_form_encoded_mail_is_accepted(api: Api) -> None:
    integration = new_integration(api)
    key = as_integration(api, integration["apiKey"])
    response = key.post(
        f"/v1/integrations/{integration['id']}/events",
        data={"subject": "Form mail", "from_address": "f@example.com"},
    )
    assert response.status_code == 202
    api.process()
    status = api.get(f"/v1/alerts/requests/{response.get_json()['requestId']}").get_json()
    assert api.get(f"/v1/alerts/{status['alertId']}").get_json()["message"] == "Form mail"


def test_dry_run_explains_and_creates_nothing(api: Api, session: Session) -> None:
    integration = new_integration(api, name="Dry", type="API")
    base = f"/v1/integrations/{integration['id']}/actions"
    api.post(
        base,
        json={
            **SEED_CREATE,
            "name": "ignore staging",
            "type": "ignore",
            "filter": {
                "conditionMatchType": "match-all-conditions",
                "conditions": [
                    {"field": "tags", "operation": "contains", "expectedValue": "staging"},
                    {"field": "priority", "operation": "less-than", "expectedValue": "P2"},
                ],
            },
        },
    )
    sample = {"message": "Queue {{x}} backed up", "tags": ["staging", "queue"], "priority": "P1"}
    response = api.post(f"{base}/test", json={"payload": sample})
    assert response.status_code == 200
    report = response.get_json()
    ignore, create = report["evaluated"]
    assert ignore["filter"]["matched"] is False
    assert [c["result"] for c in ignore["filter"]["conditions"]] == [True, False]
    assert "not lower than P2" in ignore["filter"]["conditions"][1]["reason"]
    assert report["action"]["type"] == "create"
    assert (
        report["rendered"]["message"] == "Queue {{x}} backed up"
    )  # payload text is not a template
    assert report["rendered"]["tags"] == ["staging", "queue"]
    assert create["filter"]["reason"] == "match-all matches every payload"

    ignored = api.post(f"{base}/test", json={"payload": {**sample, "priority": "P4"}}).get_json()
    assert ignored["status"] == "Ignored by action 'ignore staging'"
    assert ignored["rendered"] is None
    assert api.get("/v1/alerts").get_json()["values"] == []
    assert api.process() == 0


# ---------------------------------------------------------------------------------------------
# Outgoing actions


def post_to_url(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "postToUrl",
        "name": "forward",
        "domain": "alert",
        "direction": "outgoing",
        "filter": {"conditionMatchType": "match-all"},
        "typeSpecificProperties": {"url": url, "headers": {"X-Secret": "s"}},
        "actionMapping": {"type": "create"},
        **extra,
    }


@pytest.fixture
def strict_api(api: Api, settings: Settings, session_factory: sessionmaker[Session]) -> Api:
    """The same workspace, served by an app that refuses private destinations (the default)."""
    app = create_app(
        settings.with_(allow_private_outbound=False),
        session_factory=session_factory,
        configure_logs=False,
    )
    client: FlaskClient = app.test_client()
    return Api(client, api.workspace, api.key, api.session_factory)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://localhost:8080/hook",
        "http://[::ffff:10.0.0.1]/",
        "http://2130706433/",
        "ftp://example.com/",
    ],
)
def test_outgoing_actions_to_internal_addresses_are_refused(strict_api: Api, url: str) -> None:
    integration = new_integration(strict_api, name="Out", type="API")
    base = f"/v1/integrations/{integration['id']}/actions"
    response = strict_api.post(base, json=post_to_url(url))
    assert response.status_code == 422
    assert "typeSpecificProperties.url" in response.get_json()["errors"][0]["title"]
    # And an update cannot sneak it in either.
    allowed = post_to_url("https://93.184.216.34/hook")
    allowed["typeSpecificProperties"]["url"] = "https://93.184.216.34/hook"
    created = strict_api.post(base, json=allowed)
    assert created.status_code == 200
    response = strict_api.patch(
        f"{base}/{created.get_json()['id']}", json={"typeSpecificProperties": {"url": url}}
    )
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("change", "title"),
    [
        ({"actionMapping": None}, "actionMapping is required"),
        ({"actionMapping": {"type": "explode"}}, "actionMapping.type must be one of"),
        ({"typeSpecificProperties": {}}, "typeSpecificProperties.url is required"),
        ({"typeSpecificProperties": {"url": "https://x.example", "headers": {"a": 1}}}, "headers"),
        (
            {"typeSpecificProperties": {"url": "https://x.example", "headers": {"a": "b\r\nc: d"}}},
            "one line",
        ),
        ({"type": "sendCarrierPigeon"}, "type must be one of postToUrl"),
        # Headers the worker could never send are refused here, not on every delivery.
        (
            {"typeSpecificProperties": {"url": "https://x.example", "headers": {"X-Site": "東京"}}},
            "X-Site cannot be sent",
        ),
        (
            {"typeSpecificProperties": {"url": "https://x.example", "headers": {"Bad Name": "v"}}},
            "is not an HTTP header name",
        ),
        (
            {"typeSpecificProperties": {"url": "https://x.example", "headers": {"X-A": " v"}}},
            "X-A cannot be sent",
        ),
        (
            {"typeSpecificProperties": {"url": "https://x.example", "headers": {"X-A": "a\x07b"}}},
            "X-A cannot be sent",
        ),
    ],
)
def test_invalid_outgoing_actions(api: Api, change: dict[str, Any], title: str) -> None:
    integration = new_integration(api, name="Out", type="API")
    body = {**post_to_url("https://hooks.example.com/x"), **change}
    body = {k: v for k, v in body.items() if v is not None}
    response = api.post(f"/v1/integrations/{integration['id']}/actions", json=body)
    assert response.status_code == 422
    assert title in response.get_json()["errors"][0]["title"]


def test_alert_changes_queue_webhooks_for_matching_outgoing_actions(
    api: Api, session: Session
) -> None:
    integration = new_integration(api, name="Fwd", type="API")
    base = f"/v1/integrations/{integration['id']}/actions"
    created = api.post(base, json=post_to_url("http://127.0.0.1:9/hook")).get_json()
    assert created["actionMapping"] == {"type": "create", "parameter": {}}
    api.post(
        base,
        json=post_to_url(
            "http://127.0.0.1:9/closed",
            name="on close of P1",
            actionMapping={"type": "close"},
            filter={
                "conditionMatchType": "match-all-conditions",
                "conditions": [{"field": "priority", "operation": "equals", "expectedValue": "P1"}],
            },
        ),
    )
    p3 = api.create_alert(message="minor", alias="minor")
    p1 = api.create_alert(message="major", alias="major", priority="P1")
    for alias in ("minor", "major"):
        assert (
            api.post(
                f"/v1/alerts/{alias}/close", query_string={"identifierType": "alias"}
            ).status_code
            == 202
        )
    api.process()
    messages = session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == "webhook").order_by(OutboxMessage.id)
    ).all()
    bodies = [
        (m.payload["url"], m.payload["body"]["action"], m.payload["body"]["alert"]["id"])
        for m in messages
    ]
    assert bodies == [
        ("http://127.0.0.1:9/hook", "Create", p3["id"]),
        ("http://127.0.0.1:9/hook", "Create", p1["id"]),
        ("http://127.0.0.1:9/closed", "Close", p1["id"]),
    ]
    assert messages[0].payload["headers"] == {"X-Secret": "s"}
    assert messages[0].installation_id is None
    json.dumps(messages[0].payload)  # the payload is plain JSON for the worker
    # Allowed when configured (this app permits private addresses), refused when sent by a
    # worker whose settings do not.
    strict = api.client.application.extensions["provider.settings"].with_(
        allow_private_outbound=False
    )
    outcome = send_webhook(messages[0].payload, settings=strict)
    assert not outcome.ok
    assert not outcome.retryable
    assert "destination refused" in outcome.error

    # Disabling the action stops the forwarding.
    api.patch(f"{base}/{created['id']}", json={"enabled": False})
    api.create_alert(message="after", alias="after")
    assert (
        session.scalar(
            select(OutboxMessage.id)
            .where(OutboxMessage.kind == "webhook")
            .order_by(OutboxMessage.id.desc())
        )
        == messages[-1].id
    )


def test_a_batch_reads_its_workspaces_outgoing_actions_once(api: Api, session: Session) -> None:
    """A storm's changes each asked which outgoing actions the workspace has (usually none):
    a batch asks once per workspace, and still queues what each change triggers."""
    integration = new_integration(api, name="Fwd", type="API")
    base = f"/v1/integrations/{integration['id']}/actions"
    api.post(
        base,
        json=post_to_url(
            "http://127.0.0.1:9/p1",
            filter={
                "conditionMatchType": "match-all-conditions",
                "conditions": [{"field": "priority", "operation": "equals", "expectedValue": "P1"}],
            },
        ),
    )
    for n in range(6):
        body = {"message": f"disk {n}", "alias": f"disk-{n % 3}", "priority": f"P{1 + n % 2}"}
        assert api.post("/v1/alerts", json=body).status_code == 202

    with api.statements_on("integration_actions", reads=True) as reads:
        assert api.process() == 6  # one batch

    assert len(reads) == 1, reads
    queued = session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == "webhook").order_by(OutboxMessage.id)
    ).all()
    # the creates of disk-0 and disk-2 (P1); disk-1's create was a P2, its repeat no create
    assert [m.payload["body"]["alert"]["alias"] for m in queued] == ["disk-0", "disk-2"]


def test_actions_are_deleted_with_their_integration(api: Api, session: Session) -> None:
    integration = new_integration(api, name="Gone", type="API")
    api.post(f"/v1/integrations/{integration['id']}/actions", json=SEED_CREATE)
    assert api.delete(f"/v1/integrations/{integration['id']}").status_code == 200
    session.expire_all()
    assert session.scalars(select(IntegrationAction)).all() == []
