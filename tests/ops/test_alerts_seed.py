"""Every request printed in the JSM operations alerts reference, sent as printed.

Base URL, path prefix and credentials are replaced; bodies are the printed ones, sent as the
printed curl sends them (Basic auth with the key as password, JSON content type).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.ops.conftest import Api

CREATE_BODY = """{ "message": "The CPU usage on Server XYZ has exceeded 80% for over 5 minutes.", "responders": [ { "id": "4513b7ea-3b91-438f-b7e4-e3e54af9147c", "type": "team" }, { "id": "bb4d9938-c3c2-455d-aaab-727aa701c0d8", "type": "user" }, { "id": "aee8a0de-c80f-4515-a232-501c0bc9d715", "type": "escalation" }, { "id": "80564037-1984-4f38-b98e-8a1f662df552", "type": "schedule" } ], "visibleTo": [ { "id": "4513b7ea-3b91-438f-b7e4-e3e54af9147c", "type": "team" }, { "id": "bb4d9938-c3c2-455d-aaab-727aa701c0d8", "type": "user" } ], "note": "This server has experienced high CPU usage multiple times in the past week. A server upgrade has been recommended to prevent future occurrences.", "alias": "DatabaseConnectionFailure_DatabaseServer1", "entity": "DatabaseServer1", "source": "DBMonitoringTool", "tags": [ "OverwriteQuietHours", "Critical" ], "actions": [ "RestartServer" ], "description": "The alert is triggered due to the high CPU usage on Server XYZ. The CPU usage has consistently been above 80% for more than 5 minutes which could potentially lead to server slowdown or even a crash. Suggested action is to investigate the processes consuming high CPU and optimize or terminate them as needed. If the issue persists, consider upgrading the server resources.", "priority": "P1", "extraProperties": { "backend": false, "browser": "Firefox 113.0", "browser.name": "Firefox", "bundler": "parcel@2.10.3", "environment": "production" } }"""

ALERT_EXAMPLE = json.loads(
    """{ "id": "e0caa0ce-d52f-4500-81b9-d592d06970b6", "tinyId": "1234", "createdAt": "2024-01-05T07:06:47.958Z", "updatedAt": "2024-01-05T07:06:47.958Z", "message": "The CPU usage on Server XYZ has exceeded 80% for over 5 minutes.", "entity": "DatabaseServer1", "source": "DBMonitoringTool", "status": "closed", "alias": "DatabaseConnectionFailure_DatabaseServer1", "tags": [ "OverwriteQuietHours", "Critical" ], "extraProperties": { "backend": false, "browser": "Firefox 113.0", "browser.name": "Firefox", "bundler": "parcel@2.10.3", "environment": "production" }, "description": "The alert is triggered due to the high CPU usage on Server XYZ.", "acknowledged": true, "count": 3, "owner": "John Smith", "snoozed": false, "snoozedUntil": "2022-05-01T00:00:00Z", "lastOccurredAt": "2022-04-01T00:00:00Z", "integrationType": "API", "integrationName": "Default API", "priority": "P1", "responders": [ { "id": "4513b7ea-3b91-438f-b7e4-e3e54af9147c", "type": "team" } ], "actions": [ "RestartServer" ], "seen": true }"""
)
STATUS_EXAMPLE = json.loads(
    """{ "action": "Create", "processedAt": "2024-01-05T07:44:10.409Z", "integrationId": "", "isSuccess": true, "status": "Alert does not exist", "alertId": "9b251e07-73c9-4907-9996-8cb53a6a20d0-1704440650350", "alias": "DatabaseConnectionFailure_DatabaseServer1" }"""
)
ACCEPTED_EXAMPLE = json.loads(
    """{ "result": "Request will be processed", "requestId": "d383c6e9-b1e7-4b59-9c35-72f1a2187777", "took": 0.195 }"""
)


def printed_headers(api: Api, *, body: bool = False) -> dict[str, str]:
    credentials = base64.b64encode(f"email@example.com:{api.key}".encode()).decode()
    headers = {"Authorization": f"Basic {credentials}", "Accept": "application/json"}
    if body:
        headers["Content-Type"] = "application/json"
    return headers


def send(api: Api, method: str, path: str, data: str | None = None) -> Any:
    return api.client.open(
        path, method=method, headers=printed_headers(api, body=data is not None), data=data
    )


def assert_same_shape(actual: Any, example: Any, where: str = "") -> None:
    """Same keys, and values of the same JSON types (``null`` allowed for optional times)."""
    if isinstance(example, dict):
        assert isinstance(actual, dict), where
        assert set(example) <= set(actual), f"{where}: missing {set(example) - set(actual)}"
        for key, value in example.items():
            if actual[key] is None and key in ("snoozedUntil", "processedAt"):
                continue
            assert_same_shape(actual[key], value, f"{where}.{key}")
    elif isinstance(example, list):
        assert isinstance(actual, list), where
        for item in actual:
            if example:
                assert_same_shape(item, example[0], f"{where}[]")
    elif isinstance(example, bool):
        assert isinstance(actual, bool), where
    elif isinstance(example, int | float):
        assert isinstance(actual, int | float), where
        assert not isinstance(actual, bool), where
    else:
        assert isinstance(actual, type(example)), f"{where}: {actual!r}"


def assert_accepted(response: Any) -> str:
    assert response.status_code == 202, response.get_data(as_text=True)
    body = response.get_json()
    assert_same_shape(body, ACCEPTED_EXAMPLE)
    assert body["result"] == "Request will be processed"
    return str(body["requestId"])


@pytest.fixture
def alert(api: Api) -> dict[str, Any]:
    request_id = assert_accepted(send(api, "POST", "/v1/alerts", CREATE_BODY))
    api.process()
    status = send(api, "GET", f"/v1/alerts/requests/{request_id}").get_json()
    return api.get(f"/v1/alerts/{status['alertId']}").get_json()


def test_create_alert_as_printed(api: Api) -> None:
    request_id = assert_accepted(send(api, "POST", "/v1/alerts", CREATE_BODY))
    api.process()
    status = send(api, "GET", f"/v1/alerts/requests/{request_id}").get_json()
    created = api.get(f"/v1/alerts/{status['alertId']}").get_json()
    sent = json.loads(CREATE_BODY)
    for key in ("message", "alias", "entity", "source", "tags", "actions", "description"):
        assert created[key] == sent[key], key
    assert created["extraProperties"] == sent["extraProperties"]
    assert created["responders"] == sent["responders"]
    assert created["priority"] == "P1"


def test_get_request_status_as_printed(api: Api) -> None:
    request_id = assert_accepted(send(api, "POST", "/v1/alerts", CREATE_BODY))
    api.process()
    response = send(api, "GET", f"/v1/alerts/requests/{request_id}")
    assert response.status_code == 200
    body = response.get_json()
    assert_same_shape(body, STATUS_EXAMPLE)
    assert body["action"] == "Create"
    assert body["isSuccess"] is True
    assert body["alias"] == "DatabaseConnectionFailure_DatabaseServer1"


def test_list_alerts_as_printed(api: Api, alert: dict[str, Any]) -> None:
    response = send(api, "GET", "/v1/alerts")
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"values", "count", "links"}
    assert body["count"] == 1
    assert_same_shape(body["values"][0], ALERT_EXAMPLE)
    assert body["values"][0]["id"] == alert["id"]


def test_get_alert_as_printed(api: Api, alert: dict[str, Any]) -> None:
    response = send(api, "GET", f"/v1/alerts/{alert['id']}")
    assert response.status_code == 200
    assert_same_shape(response.get_json(), ALERT_EXAMPLE)


def test_delete_alert_as_printed(api: Api, alert: dict[str, Any]) -> None:
    assert_accepted(send(api, "DELETE", f"/v1/alerts/{alert['id']}"))
    api.process()
    assert api.get(f"/v1/alerts/{alert['id']}").status_code == 404


def _apply(api: Api, alert: dict[str, Any], method: str, suffix: str, data: str | None) -> Any:
    request_id = assert_accepted(send(api, method, f"/v1/alerts/{alert['id']}/{suffix}", data))
    api.process()
    status = send(api, "GET", f"/v1/alerts/requests/{request_id}").get_json()
    assert status["isSuccess"] is True, status
    return api.get(f"/v1/alerts/{alert['id']}").get_json()


def test_acknowledge_as_printed(api: Api, alert: dict[str, Any]) -> None:
    after = _apply(api, alert, "POST", "acknowledge", None)
    assert after["acknowledged"] is True
    assert after["status"] == "acked"


def test_assign_as_printed(api: Api, alert: dict[str, Any]) -> None:
    data = '{ "accountId": "bb4d9938-c3c2-455d-aaab-727aa701c0d8" }'
    assert _apply(api, alert, "POST", "assign", data)["owner"] == (
        "bb4d9938-c3c2-455d-aaab-727aa701c0d8"
    )


def test_add_responder_as_printed(api: Api, alert: dict[str, Any]) -> None:
    data = '{ "id": "ac140ae4-757c-48a4-a079-041eb3bfe8d7", "type": "team" }'
    after = _apply(api, alert, "POST", "responders", data)
    assert {"id": "ac140ae4-757c-48a4-a079-041eb3bfe8d7", "type": "team"} in after["responders"]


def test_add_extra_properties_as_printed(api: Api, alert: dict[str, Any]) -> None:
    data = '{ "extraProperties": { "backend": false, "browser": "Firefox 113.0", "browser.name": "Firefox", "bundler": "parcel@2.10.3", "environment": "production" } }'
    after = _apply(api, alert, "POST", "extra-properties", data)
    assert after["extraProperties"]["bundler"] == "parcel@2.10.3"


def test_delete_extra_properties_as_printed(api: Api, alert: dict[str, Any]) -> None:
    data = '{ "keys": [ "backend", "browser" ] }'
    after = _apply(api, alert, "DELETE", "extra-properties", data)
    assert "backend" not in after["extraProperties"]
    assert "browser" not in after["extraProperties"]
    assert after["extraProperties"]["environment"] == "production"


def test_add_tags_as_printed(api: Api, alert: dict[str, Any]) -> None:
    data = '{ "tags": [ "production", "urgent" ] }'
    after = _apply(api, alert, "POST", "tags", data)
    assert after["tags"] == ["OverwriteQuietHours", "Critical", "production", "urgent"]


def test_delete_tags_as_printed(api: Api, alert: dict[str, Any]) -> None:
    _apply(api, alert, "POST", "tags", '{ "tags": [ "production", "urgent" ] }')
    data = '{ "tags": [ "production", "urgent" ] }'
    after = _apply(api, alert, "DELETE", "tags", data)
    assert after["tags"] == ["OverwriteQuietHours", "Critical"]


def test_close_as_printed(api: Api, alert: dict[str, Any]) -> None:
    after = _apply(api, alert, "POST", "close", None)
    assert after["status"] == "closed"


def test_escalate_as_documented(api: Api, alert: dict[str, Any]) -> None:
    data = '{ "escalationId": "aee8a0de-c80f-4515-a232-501c0bc9d799" }'
    after = _apply(api, alert, "POST", "escalate", data)
    assert {"id": "aee8a0de-c80f-4515-a232-501c0bc9d799", "type": "escalation"} in after[
        "responders"
    ]
