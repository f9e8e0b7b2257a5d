"""Accepted means processed: a body that gets a 202 on any intake path is processed to a
success state, and every answer the API writes is JSON a strict parser reads.

The bodies are written as raw bytes, so they can carry what ``json.dumps`` of a Python value
would not send on its own: lone surrogates, NUL, ``NaN``, ``Infinity`` and ``1e999999``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from provider.ops.alerts.models import Alert
from tests.ops.conftest import Api
from tests.ops.test_api_input import FIELDS
from tests.test_app import assert_error

# Characters no database stores (NUL; PostgreSQL refuses it in text and JSONB alike), halves of
# a surrogate pair, and ones that are fine but often mishandled.
ODD = st.sampled_from(["\x00", "\ud800", "\udfff", "\ud83d", "\U0001f525", "\u2028", "é", "\\"])
texts = st.lists(st.text(max_size=20) | ODD, max_size=4).map("".join)
NUMBERS = ["1e999999", "-1e999999", "NaN", "Infinity", "-Infinity", "1e308", "1" + "0" * 30]


def _number(token: str) -> Any:
    return _Raw(token)


class _Raw(str):
    """A number token written into the body as it is."""


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(NUMBERS).map(_number)
    | texts
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)
bodies = st.dictionaries(st.sampled_from(FIELDS) | texts, json_values, max_size=8).map(
    lambda body: {"message": "m", **body} if "message" not in body else body
)


def encode(value: Any) -> str:
    """JSON text as a client might write it: surrogates escaped, number tokens raw."""
    if isinstance(value, _Raw):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{encode(str(k))}:{encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(encode(v) for v in value) + "]"
    return json.dumps(value)


def strict_json(raw: bytes) -> Any:
    """Parse as a strict JSON parser does: ``NaN`` and ``Infinity`` are not JSON."""

    def refuse(token: str) -> Any:
        raise AssertionError(f"the API wrote {token}, which is not JSON")

    return json.loads(raw, parse_constant=refuse)


def send(api: Api, path: str, body: Any) -> Any:
    response = api.post(path, data=encode(body), content_type="application/json")
    answer = strict_json(response.get_data())
    if response.status_code != 202:
        assert 400 <= response.status_code < 500, answer
        if "/v2/" in path:  # Opsgenie's own error shape
            assert isinstance(answer["message"], str), answer
            assert answer["message"], answer
        else:
            assert_error(response, response.status_code)
        return None
    return answer


def outcome(api: Api, request_id: str) -> dict[str, Any]:
    api.process()
    response = api.get(f"/v1/alerts/requests/{request_id}")
    assert response.status_code == 200
    status = strict_json(response.get_data())
    assert status["isSuccess"], status
    if status.get("alertId"):
        alert = api.get(f"/v1/alerts/{status['alertId']}")
        assert alert.status_code == 200
        strict_json(alert.get_data())
        logs = api.get(f"/v1/alerts/{status['alertId']}/logs")
        strict_json(logs.get_data())
    return status


PATHS = ["/v1/alerts", "/v2/alerts", "/jsm/ops/api/c/v1/alerts", "/jsm/ops/integration/v2/alerts"]
SETTINGS = hsettings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@SETTINGS
@given(body=bodies, path=st.sampled_from(PATHS))
def test_a_create_that_gets_202_is_processed_to_success(api: Api, body: Any, path: str) -> None:
    answer = send(api, path, body)
    if answer is not None:
        outcome(api, answer["requestId"])


@pytest.fixture
def integration(api: Api) -> tuple[str, str]:
    response = api.post("/v1/integrations", json={"name": "Monitoring", "type": "API"})
    assert response.status_code == 201, response.get_json()
    data = response.get_json()
    data = data.get("data", data)
    return data["id"], data["apiKey"]


@SETTINGS
@given(body=bodies | json_values)
def test_an_event_that_gets_202_is_processed_to_success(
    api: Api, integration: tuple[str, str], body: Any
) -> None:
    integration_id, key = integration
    response = api.client.post(
        f"/v1/integrations/{integration_id}/events",
        data=encode(body),
        content_type="application/json",
        headers={"Authorization": f"GenieKey {key}"},
    )
    answer = strict_json(response.get_data())
    if response.status_code != 202:
        assert_error(response, response.status_code)
        assert 400 <= response.status_code < 500
        return
    api.process()
    status = strict_json(api.get(f"/v1/alerts/requests/{answer['requestId']}").get_data())
    # An event its actions decided to ignore is processed too, and says why; what was handed
    # on for processing must have succeeded.
    assert status["isSuccess"] or status["status"].startswith(("Rendered alert", "No ")), status


@pytest.mark.parametrize(
    "raw",
    [
        '{"message": "x \\ud800"}',
        '{"message": "x", "details": {"n": 1e999999}}',
        '{"message": "x", "details": {"n": NaN}}',
        '{"message": "x", "details": {"n": -Infinity}}',
        '{"message": "x\\u0000"}',
    ],
)
def test_the_review_bodies_are_refused_before_the_202(api: Api, raw: str) -> None:
    for path in PATHS:
        assert send(api, path, json.loads(raw)) is None
        assert api.post(path, data=raw, content_type="application/json").status_code == 400


def test_an_alert_stored_with_a_non_finite_number_is_served_as_json(
    api: Api, databases: Any
) -> None:
    # Rows SQLite stored before the intake refused them still have to be served as JSON.
    if databases.backend == "postgresql":
        pytest.skip("PostgreSQL's JSONB never held one")
    alert = api.create_alert(alias="old", extraProperties={"n": "1"})
    with api.session_factory() as session:
        row = session.query(Alert).filter_by(public_id=alert["id"]).one()
        row.extra_properties = {"n": float("inf")}
        session.commit()
    strict_json(api.get(f"/v1/alerts/{alert['id']}").get_data())
    strict_json(api.get("/v1/alerts").get_data())
