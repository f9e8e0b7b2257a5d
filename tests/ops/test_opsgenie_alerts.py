"""``/v2/alerts``: Opsgenie's protocol over the same alerts, at both paths clients use."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.ops.conftest import Api

PREFIXES = ("/v2/alerts", "/jsm/ops/integration/v2/alerts")


def accepted(response: Any) -> str:
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["result"] == "Request will be processed"
    assert isinstance(body["took"], float | int)
    return str(body["requestId"])


def outcome(api: Api, request_id: str) -> dict[str, Any]:
    api.process()
    response = api.get(f"/v2/alerts/requests/{request_id}")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) == {"data", "took", "requestId"}
    return dict(body["data"])


def create(api: Api, prefix: str = "/v2/alerts", **body: Any) -> dict[str, Any]:
    body.setdefault("message", "CPU high")
    status = outcome(api, accepted(api.post(prefix, json=body)))
    assert status["success"], status
    assert status["isSuccess"], status
    return status


@pytest.mark.parametrize("prefix", PREFIXES)
def test_create_then_read_by_id_alias_and_tiny_id(api: Api, prefix: str) -> None:
    status = create(
        api,
        prefix,
        message="CPU high",
        alias="cpu-web-1",
        priority="P2",
        tags=["web"],
        details={"host": "web-1", "cores": 8},
        entity="web-1",
        description="above 90%",
    )
    assert status["action"] == "Create"
    by_id = api.get(f"{prefix}/{status['alertId']}").get_json()
    alert = by_id["data"]
    assert set(by_id) == {"data", "took", "requestId"}
    assert alert["message"] == "CPU high"
    assert alert["priority"] == "P2"
    assert alert["tags"] == ["web"]
    assert alert["details"] == {"host": "web-1", "cores": "8"}
    assert alert["status"] == "open"
    assert alert["isSeen"] is False
    assert alert["integration"]["name"] == "Default API"
    by_alias = api.get(f"{prefix}/cpu-web-1?identifierType=alias").get_json()["data"]
    by_tiny = api.get(f"{prefix}/{alert['tinyId']}?identifierType=tiny").get_json()["data"]
    assert by_alias == by_tiny == alert


def test_list_pages_with_limit_and_offset(api: Api) -> None:
    for n in range(3):
        create(api, message=f"alert {n}", tags=["db"] if n else [])

    page = api.get("/v2/alerts?limit=2&query=status:open&sort=createdAt&order=asc").get_json()

    assert [a["message"] for a in page["data"]] == ["alert 0", "alert 1"]
    assert (
        page["paging"]["next"]
        == "/v2/alerts?query=status%3Aopen&sort=createdAt&order=asc&offset=2&limit=2"
    )
    assert "description" not in page["data"][0]
    rest = api.get(page["paging"]["next"]).get_json()
    assert [a["message"] for a in rest["data"]] == ["alert 2"]
    assert "next" not in rest["paging"]
    count = api.get("/v2/alerts/count?query=tag:db").get_json()
    assert count["data"] == {"count": 2}


def test_a_trailing_slash_is_accepted(api: Api) -> None:
    accepted(api.post("/v2/alerts/", json={"message": "npm", "alias": "npm-1"}))
    api.process()
    request_id = accepted(api.post("/v2/alerts/npm-1/close/?identifierType=alias", json={}))
    assert outcome(api, request_id)["isSuccess"]
    assert (
        api.get("/v2/alerts/npm-1/?identifierType=alias").get_json()["data"]["status"] == "closed"
    )


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_message_description_and_priority_updates(api: Api, method: str) -> None:
    create(api, alias="upd", message="old", description="old text", priority="P4")
    for field, value in (("message", "new"), ("description", "new text"), ("priority", "P1")):
        response = api.call(
            method, f"/v2/alerts/upd/{field}?identifierType=alias", json={field: value}
        )
        assert outcome(api, accepted(response))["isSuccess"]

    alert = api.get("/v2/alerts/upd?identifierType=alias").get_json()["data"]
    assert (alert["message"], alert["description"], alert["priority"]) == ("new", "new text", "P1")


def test_a_description_update_without_a_description_clears_it(api: Api) -> None:
    # Alertmanager omits an empty description from its update.
    create(api, alias="am", description="was set")
    response = api.call("PUT", "/v2/alerts/am/description?identifierType=alias", json={})
    assert outcome(api, accepted(response))["isSuccess"]
    assert api.get("/v2/alerts/am?identifierType=alias").get_json()["data"]["description"] == ""


def test_the_writes_on_an_alert(api: Api) -> None:
    alert_id = create(api, alias="w", tags=["a", "b"], details={"k1": "v", "k2": "v"})["alertId"]
    writes = [
        ("POST", "acknowledge", {"user": "ops", "note": "on it"}),
        ("POST", "unacknowledge", {}),
        ("POST", "notes", {"note": "looking"}),
        ("POST", "tags", {"tags": ["c"]}),
        ("DELETE", "tags?tags=a,b", None),
        ("POST", "details", {"details": {"k3": "v"}}),
        ("DELETE", "details?keys=k1", None),
        ("POST", "assign", {"owner": {"username": "jane@example.com"}}),
        ("POST", "responders", {"responder": {"type": "team", "name": "dba"}}),
        ("POST", "escalate", {"escalation": {"name": "night"}}),
        ("POST", "snooze", {"endTime": "2099-01-01T00:00:00Z"}),
    ]
    for method, rule, body in writes:
        response = api.call(method, f"/v2/alerts/{alert_id}/{rule}", json=body)
        assert outcome(api, accepted(response))["isSuccess"], rule

    alert = api.get(f"/v2/alerts/{alert_id}").get_json()["data"]
    assert alert["tags"] == ["c"]
    assert alert["details"] == {"k2": "v", "k3": "v"}
    assert alert["owner"] == "jane@example.com"
    assert {"type": "team", "id": "dba"} in alert["responders"]
    assert alert["snoozed"] is True
    notes = api.get(f"/v2/alerts/{alert_id}/notes").get_json()
    assert [n["note"] for n in notes["data"]] == ["looking", "on it"]
    assert notes["data"][0]["offset"] == "1"

    assert outcome(api, accepted(api.post(f"/v2/alerts/{alert_id}/close", json={})))["isSuccess"]
    closed = api.get(f"/v2/alerts/{alert_id}").get_json()["data"]
    assert closed["status"] == "closed"
    assert closed["report"]["closeTime"] >= 0
    assert closed["report"]["closedBy"] == "api-key"
    assert outcome(api, accepted(api.delete(f"/v2/alerts/{alert_id}")))["isSuccess"]
    assert api.get(f"/v2/alerts/{alert_id}").status_code == 404


def test_basic_auth_with_the_key_as_password_and_integration_keys(api: Api) -> None:
    basic = base64.b64encode(f"anyone:{api.key}".encode()).decode()
    response = api.client.get("/v2/alerts", headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 200
    integration = api.post("/v1/integrations", json={"name": "Prometheus"}).get_json()
    created = api.client.post(
        "/jsm/ops/integration/v2/alerts",
        json={"message": "from prometheus", "alias": "p"},
        headers={"Authorization": f"GenieKey {integration['apiKey']}"},
    )
    api.process()
    status = outcome(api, accepted(created))
    alert = api.get(f"/v2/alerts/{status['alertId']}").get_json()["data"]
    assert alert["integration"] == {
        "id": integration["id"],
        "name": "Prometheus",
        "type": integration["type"],
    }


def opsgenie_error(response: Any, status: int) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert {"message", "took", "requestId"} <= set(body)
    assert "errors" not in body or isinstance(body["errors"], dict)
    return str(body["message"])


@pytest.mark.parametrize("prefix", PREFIXES)
def test_errors_use_opsgenies_body(api: Api, prefix: str) -> None:
    assert "API key" in opsgenie_error(api.client.get(prefix), 401)
    assert "does not exist" in opsgenie_error(api.get(f"{prefix}/missing"), 404)
    assert "identifierType" in opsgenie_error(api.get(f"{prefix}/x?identifierType=name"), 422)
    assert "limit" in opsgenie_error(api.get(f"{prefix}?limit=101"), 422)
    assert "offset + limit" in opsgenie_error(api.get(f"{prefix}?offset=19990&limit=20"), 422)
    assert "JSON" in opsgenie_error(api.post(prefix, data="{nope"), 400)
    body = api.post(prefix, json={"message": ""})
    assert opsgenie_error(body, 422).startswith("message")
    assert body.get_json()["errors"] == {"message": body.get_json()["message"]}
    opsgenie_error(api.call("PUT", f"{prefix}/x/acknowledge"), 405)
    opsgenie_error(api.get(f"{prefix}/x/unknown/path"), 404)
    opsgenie_error(api.get(f"{prefix}/requests/nope"), 404)


def test_v1_errors_keep_the_jsm_body(api: Api) -> None:
    body = api.get("/v1/alerts/missing").get_json()
    assert body["errors"][0]["code"] == "alert_not_found"
