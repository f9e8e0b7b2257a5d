"""A key of workspace A never reaches an object of workspace B: 404 on every endpoint."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ops.conftest import Api

ENDPOINTS: list[tuple[str, str, Any]] = [
    ("GET", "/v1/alerts/{alert}", None),
    ("GET", "/v1/alerts/{tiny}?identifierType=tiny", None),
    ("GET", "/v1/alerts/{alias}?identifierType=alias", None),
    ("GET", "/v1/alerts/alias?alias={alias}", None),
    ("GET", "/v1/alerts/requests/{request}", None),
    ("GET", "/v1/alerts/requests/{request}?includePending=true", None),
    ("DELETE", "/v1/alerts/{alert}", None),
    ("DELETE", "/v1/alerts/{alias}?identifierType=alias", None),
    ("POST", "/v1/alerts/{alert}/acknowledge", None),
    ("POST", "/v1/alerts/{alert}/unacknowledge", None),
    ("POST", "/v1/alerts/{alert}/close", {"note": "x"}),
    ("POST", "/v1/alerts/{alias}/close?identifierType=alias", None),
    ("POST", "/v1/alerts/{tiny}/close?identifierType=tiny", None),
    ("POST", "/v1/alerts/{alert}/assign", {"accountId": "me"}),
    ("POST", "/v1/alerts/{alert}/responders", {"id": "t", "type": "team"}),
    ("POST", "/v1/alerts/{alert}/extra-properties", {"extraProperties": {"a": "b"}}),
    ("DELETE", "/v1/alerts/{alert}/extra-properties", {"keys": ["env"]}),
    ("POST", "/v1/alerts/{alert}/tags", {"tags": ["x"]}),
    ("DELETE", "/v1/alerts/{alert}/tags", {"tags": ["x"]}),
    ("POST", "/v1/alerts/{alert}/escalate", {"escalationId": "e"}),
    ("POST", "/v1/alerts/{alert}/action", {"actionName": "Restart"}),
    ("POST", "/v1/alerts/{alert}/snooze", {"endTime": "2999-01-01T00:00:00Z"}),
    ("GET", "/v1/alerts/{alert}/notes", None),
    ("POST", "/v1/alerts/{alert}/notes", {"note": "hello"}),
    ("PATCH", "/v1/alerts/{alert}/notes/{note}", {"note": "changed"}),
    ("DELETE", "/v1/alerts/{alert}/notes/{note}", None),
    ("PATCH", "/v1/alerts/{own_alert}/notes/{note}", {"note": "changed"}),
    ("DELETE", "/v1/alerts/{own_alert}/notes/{note}", None),
    ("PATCH", "/v1/alerts/{alert}/priority", {"priority": "P1"}),
    ("PATCH", "/v1/alerts/{alert}/message", {"message": "m"}),
    ("PATCH", "/v1/alerts/{alert}/description", {"description": "d"}),
    ("GET", "/v1/alerts/{alert}/logs", None),
    ("GET", "/v1/components/{component}", None),
    ("PATCH", "/v1/components/{component}", {"name": "mine now"}),
    ("DELETE", "/v1/components/{component}", None),
]


@pytest.fixture
def victim(api: Api, other_api: Api) -> dict[str, str]:
    """Objects of workspace B, plus one alert of A (to combine with B's note)."""
    alert = other_api.create_alert(
        message="B's secret", alias="b-alias", actions=["Restart"], note="B's note"
    )
    notes = other_api.get(f"/v1/alerts/{alert['id']}/notes").get_json()["values"]
    component = other_api.post("/v1/components", json={"name": "B service"}).get_json()
    request_id = other_api.post("/v1/alerts", json={"message": "pending"}).get_json()["requestId"]
    own = api.create_alert(message="A's alert", alias="a-alias")
    return {
        "alert": alert["id"],
        "tiny": alert["tinyId"],
        "alias": alert["alias"],
        "note": notes[0]["id"],
        "component": component["id"],
        "request": request_id,
        "own_alert": own["id"],
    }


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_other_workspace_objects_are_404(
    api: Api, other_api: Api, victim: dict[str, str], method: str, path: str, body: Any
) -> None:
    response = api.call(method, path.format(**victim), json=body)
    assert response.status_code == 404, response.get_json()
    assert "errors" in response.get_json()
    # and nothing of B changed
    assert other_api.get(f"/v1/alerts/{victim['alert']}").get_json()["message"] == "B's secret"
    assert other_api.get(f"/v1/components/{victim['component']}").status_code == 200


def test_lists_never_show_other_workspaces(
    api: Api, other_api: Api, victim: dict[str, str]
) -> None:
    alerts = api.get("/v1/alerts", query_string={"query": "alias:b-alias"}).get_json()
    assert alerts["values"] == []
    components = api.get("/v1/components", query_string={"name": "B service"}).get_json()
    assert components["values"] == []
    assert {a["alias"] for a in api.get("/v1/alerts").get_json()["values"]} == {"a-alias"}


def test_same_alias_in_two_workspaces_are_two_alerts(api: Api, other_api: Api) -> None:
    a = api.create_alert(alias="shared")
    b = other_api.create_alert(alias="shared")
    assert a["id"] != b["id"]
    assert a["count"] == b["count"] == 1
