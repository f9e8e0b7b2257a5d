"""The forms Opsgenie clients send are read as the JSM ones; what each action stores to process."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from provider.ops.alerts.models import AlertRequest
from tests.ops.conftest import Api
from tests.test_app import assert_error


def _stored(api: Api, method: str, path: str, body: Any = None) -> dict[str, Any]:
    """The payload the accepted request stored for processing."""
    response = api.call(method, path, json=body)
    assert response.status_code == 202, response.get_json()
    with api.session_factory() as session:
        request = session.scalars(
            select(AlertRequest).where(AlertRequest.public_id == response.get_json()["requestId"])
        ).one()
        return dict(request.payload)


@pytest.fixture
def path(api: Api) -> str:
    return f"/v1/alerts/{api.create_alert(alias='forms', extraProperties={'k': 'v'})['id']}"


@pytest.mark.parametrize(
    ("suffix", "body", "payload"),
    [
        (
            "responders",
            {"responder": {"username": "al", "type": "user"}, "note": "n"},
            {"note": "n", "responder": {"id": "al", "type": "user"}},
        ),
        (
            "responders",
            {"name": "ops", "type": "team"},
            {"responder": {"id": "ops", "type": "team"}},
        ),
        (
            "escalate",
            {"escalation": {"name": "night"}, "user": "bob"},
            {"escalationId": "night", "user": "bob"},
        ),
        ("extra-properties", {"details": {"region": "eu"}}, {"extraProperties": {"region": "eu"}}),
        ("assign", {"accountId": " acc ", "user": None, "source": ""}, {"accountId": "acc"}),
    ],
)
def test_opsgenie_forms_are_stored_in_the_one_shape(
    api: Api, path: str, suffix: str, body: dict[str, Any], payload: dict[str, Any]
) -> None:
    assert _stored(api, "POST", f"{path}/{suffix}", body) == payload


def test_keys_to_remove_come_from_the_body_before_the_query(api: Api, path: str) -> None:
    target = f"{path}/extra-properties"
    assert _stored(api, "DELETE", f"{target}?keys=a,+b,,") == {"keys": ["a", "b"]}
    assert _stored(api, "DELETE", f"{target}?keys=a", {"keys": ["z"]}) == {"keys": ["z"]}
    assert_error(api.delete(f"{target}?keys=,"), 422)


def test_over_long_action_fields_are_cut_unless_strict(api: Api, path: str) -> None:
    cut = _stored(api, "POST", f"{path}/acknowledge", {"user": "u" * 300})
    assert cut == {"user": "u" * 100}
    strict = api.post(f"{path}/acknowledge?strictValidation=true", json={"user": "u" * 300})
    assert assert_error(strict, 422)["title"] == "user must be at most 100 characters"


def test_a_note_of_only_spaces_is_refused_but_its_spaces_are_kept(api: Api, path: str) -> None:
    assert_error(api.post(f"{path}/notes", json={"note": "   "}), 422)
    assert _stored(api, "POST", f"{path}/notes", {"note": " kept "}) == {"note": " kept "}


def test_snooze_stores_a_utc_end_time(api: Api, path: str) -> None:
    stored = _stored(api, "POST", f"{path}/snooze", {"endTime": "2999-01-01T02:00:00+02:00"})
    assert stored == {"endTime": "2999-01-01T00:00:00Z"}
