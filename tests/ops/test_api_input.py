"""Malformed input anywhere is a 4xx in the error format; auth, rate limits and body size too."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from provider.app import create_app
from provider.config import Settings
from tests.ops.conftest import Api
from tests.ops.conftest import make_api
from tests.test_app import assert_error

# Every field of an alert create body (the fuzz tests here and in test_accepted_means_processed).
FIELDS = [
    "message",
    "alias",
    "description",
    "entity",
    "source",
    "user",
    "note",
    "priority",
    "tags",
    "actions",
    "extraProperties",
    "details",
    "responders",
    "visibleTo",
]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=300),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=20,
)
bodies = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), json_values, max_size=10)


@hsettings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies)
def test_any_create_body_is_202_or_a_4xx_in_error_format(api: Api, body: dict[str, Any]) -> None:
    response = api.post("/v1/alerts", json=body)
    if response.status_code == 202:
        assert isinstance(body.get("message"), str)
        return
    assert response.status_code in (400, 422), response.get_data(as_text=True)
    assert_error(response, response.status_code)


@hsettings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies, strict=st.booleans())
def test_accepted_creates_are_processed_successfully(
    api: Api, body: dict[str, Any], strict: bool
) -> None:
    body = {**body, "message": "m"}
    query = "?strictValidation=true" if strict else ""
    response = api.post(f"/v1/alerts{query}", json=body)
    if response.status_code != 202:
        assert_error(response, response.status_code)
        return
    api.process()
    status = api.get(f"/v1/alerts/requests/{response.get_json()['requestId']}").get_json()
    assert status["isSuccess"] is True, status


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"{not json", 400),
        (b"[1, 2]", 400),
        (b'"message"', 400),
        (b"", 400),
        (b"\xff\xfe", 400),
        (b"[" * 5000 + b"]" * 5000, 400),
        (b'{"message": "nul \\u0000 here"}', 400),
        (b'{"message": "m", "details": {"k\\u0000": "v"}}', 400),
        (b'{"message": 5}', 422),
        (b'{"message": ""}', 422),
        (b'{"message": "   "}', 422),
        (b'{"message": "m", "priority": "P0"}', 422),
        (b'{"message": "m", "priority": 1}', 422),
        (b'{"message": "m", "tags": "a,b"}', 422),
        (b'{"message": "m", "tags": [1]}', 422),
        (b'{"message": "m", "extraProperties": []}', 422),
        (b'{"message": "m", "extraProperties": {"a": {"b": 1}}}', 422),
        (b'{"message": "m", "responders": [{"id": "x", "type": "robot"}]}', 422),
        (b'{"message": "m", "responders": [{"type": "team"}]}', 422),
        (b'{"message": "m", "visibleTo": [{"id": "x", "type": "escalation"}]}', 422),
        (b'{"message": "m", "alias": "' + b"a" * 513 + b'"}', 422),
    ],
)
def test_bad_create_bodies(api: Api, data: bytes, status: int) -> None:
    response = api.post("/v1/alerts", data=data, content_type="application/json")
    assert_error(response, status)


def test_over_long_fields_are_truncated_and_logged(api: Api) -> None:
    alert = api.create_alert(
        message="m" * 500,
        description="d" * 20000,
        tags=[f"t{i}" for i in range(30)],
        extraProperties={f"k{i}": "v" * 100 for i in range(200)},
    )
    assert len(alert["message"]) == 130
    assert alert["message"].endswith("…")
    assert len(alert["description"]) == 15000
    assert len(alert["tags"]) == 20
    assert sum(len(k) + len(v) + 2 for k, v in alert["extraProperties"].items()) <= 8000
    logs = api.get(f"/v1/alerts/{alert['id']}/logs").get_json()["values"]
    assert sum(1 for entry in logs if entry["action"] == "truncated") == 4


def test_strict_validation_rejects_instead_of_truncating(api: Api) -> None:
    response = api.post("/v1/alerts?strictValidation=true", json={"message": "m" * 131})
    error = assert_error(response, 422, "validation_failed")
    assert "message" in error["title"]


@pytest.fixture
def alert(api: Api) -> dict[str, Any]:
    return api.create_alert(alias="target", actions=["Restart"])


@pytest.mark.parametrize(
    ("method", "suffix", "body", "status"),
    [
        ("POST", "assign", {}, 422),
        ("POST", "assign", {"accountId": 5}, 422),
        ("POST", "assign", {"accountId": "x" * 300}, 422),
        ("POST", "responders", {"id": "x", "type": "robot"}, 422),
        ("POST", "extra-properties", {"extraProperties": "no"}, 422),
        ("POST", "extra-properties", {}, 422),
        ("DELETE", "extra-properties", {"keys": "env"}, 422),
        ("POST", "tags", {"tags": []}, 422),
        ("POST", "tags", {"tags": [None]}, 422),
        ("POST", "escalate", {}, 422),
        ("POST", "action", {"actionName": ["x"]}, 422),
        ("POST", "snooze", {"endTime": "tomorrow"}, 422),
        ("POST", "snooze", {"endTime": "2000-01-01T00:00:00Z"}, 422),
        ("POST", "snooze", {"endTime": "2999-01-01T00:00:00"}, 422),
        ("POST", "snooze", {"endTime": 10**30}, 422),
        ("POST", "notes", {"note": ""}, 422),
        ("PATCH", "priority", {"priority": "urgent"}, 422),
        ("PATCH", "priority", {}, 422),
        ("PATCH", "message", {"message": None}, 422),
        ("PATCH", "description", {}, 422),
        ("POST", "acknowledge", [1], 400),
        ("POST", "close", "text", 400),
    ],
)
def test_bad_action_bodies(
    api: Api, alert: dict[str, Any], method: str, suffix: str, body: Any, status: int
) -> None:
    response = api.call(method, f"/v1/alerts/{alert['id']}/{suffix}", json=body)
    assert_error(response, status)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/alerts/nope",
        "/v1/alerts/" + "x" * 600,
        "/v1/alerts/%00",
        "/v1/alerts/%F0%9F%94%A5",
        "/v1/alerts/abc?identifierType=tiny",
        "/v1/alerts/99999999999999999999999?identifierType=tiny",
        "/v1/alerts/requests/nope",
        "/v1/alerts/requests/" + "r" * 100,
        "/v1/components/nope",
    ],
)
def test_bad_identifiers_are_4xx(api: Api, path: str) -> None:
    response = api.get(path)
    assert response.status_code in (400, 404, 422)
    assert_error(response, response.status_code)


def test_unknown_identifier_type_is_422(api: Api, alert: dict[str, Any]) -> None:
    assert_error(api.get(f"/v1/alerts/{alert['id']}?identifierType=name"), 422)


def test_oversized_body_is_413_in_error_format(api: Api, settings: Settings) -> None:
    response = api.post(
        "/v1/alerts",
        data=b'{"message": "' + b"x" * (settings.max_request_bytes + 10) + b'"}',
        content_type="application/json",
    )
    assert_error(response, 413)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "GenieKey",
        "GenieKey wsk_not-a-real-key",
        "Bearer abc",
        "Basic !!!notbase64",
        "Basic " + base64.b64encode(b"user-without-password").decode(),
        "Basic " + base64.b64encode(b"user:wsk_wrong").decode(),
        "Basic " + base64.b64encode(b"\xff:\xfe").decode(),
    ],
)
def test_bad_credentials_are_401(client: FlaskClient, api: Api, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    for path in ("/v1/alerts", "/v1/components"):
        response = client.get(path, headers=headers)
        assert_error(response, 401, "unauthorized")
        assert "GenieKey" in response.headers["WWW-Authenticate"]


def test_basic_auth_with_any_user_name_works(client: FlaskClient, api: Api) -> None:
    token = base64.b64encode(f"anyone@example.com:{api.key}".encode()).decode()
    assert client.get("/v1/alerts", headers={"Authorization": f"Basic {token}"}).status_code == 200


def test_rotated_key_stops_working(api: Api, session: Session) -> None:
    from provider.ops.workspaces.service import rotate_api_key

    new_key = rotate_api_key(session, api.workspace)
    session.commit()
    assert_error(api.get("/v1/alerts"), 401)
    api.key = new_key
    assert api.get("/v1/alerts").status_code == 200


def test_rate_limit_is_429_with_retry_after(
    settings: Settings, session: Session, session_factory: sessionmaker[Session]
) -> None:
    app = create_app(
        settings.with_(api_rate_limit_per_minute=3),
        session_factory=session_factory,
        configure_logs=False,
    )
    limited = make_api(app.test_client(), session, session_factory, "Limited")
    other = make_api(app.test_client(), session, session_factory, "Other")
    for _ in range(3):
        assert limited.get("/v1/alerts").status_code == 200
    response = limited.get("/v1/alerts")
    assert_error(response, 429, "rate_limited")
    assert int(response.headers["Retry-After"]) >= 1
    assert other.get("/v1/alerts").status_code == 200  # buckets are per key


def test_nul_characters_from_other_callers_are_dropped() -> None:
    from provider.ops.alerts.schemas import AlertCreate

    data = AlertCreate.from_json({"message": "a\x00b", "tags": ["x\x00"], "details": {"k": "\x00"}})
    assert (data.message, data.tags, data.extra_properties) == ("ab", ["x"], {"k": ""})


def test_nul_in_query_parameters_is_400(api: Api) -> None:
    assert_error(api.get("/v1/alerts", query_string={"query": "message:a\x00"}), 400)
