"""Digits other than ASCII 0-9 (``"³"``, ``"٣"``) are not numbers anywhere: a 4xx, never a 500.

``str.isdigit()`` is true for superscripts, which ``int()`` refuses; the fuzzer found the first
of these through ``identifierType=tiny``.
"""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from provider.errors import NotFound
from provider.ops.workspaces.service import require_workspace
from tests.ops.conftest import Api
from tests.test_app import assert_error

DIGITS = ["\u00b3", "\u00b2\u00b3", "\u0663", "\uff11"]  # superscripts, Arabic-Indic, fullwidth


@pytest.mark.parametrize("digits", DIGITS)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/alerts/{d}?identifierType=tiny"),
        ("POST", "/v1/alerts/{d}/acknowledge?identifierType=tiny"),
        ("GET", "/v1/alerts/{d}/notes?identifierType=tiny"),
    ],
)
def test_tiny_id_that_is_not_ascii_digits_is_not_found(
    api: Api, method: str, path: str, digits: str
) -> None:
    api.create_alert()

    response = api.call(method, path.format(d=digits))

    assert_error(response, 404)


@pytest.mark.parametrize("digits", DIGITS)
@pytest.mark.parametrize(
    "path",
    [
        "/v1/components?offset={d}",
        "/v1/components?size={d}",
        "/v1/alerts?size={d}",
        "/v1/alerts?query=count%3A{d}",
        "/v1/alerts?query=tinyId%3A{d}",
        "/v1/alerts?from={d}",
        "/v1/alerts?to={d}",
        "/v1/alerts?query=createdAt%3E{d}",
    ],
)
def test_numbers_in_the_query_string_must_be_ascii(api: Api, path: str, digits: str) -> None:
    assert_error(api.get(path.format(d=digits)), 422)


@pytest.mark.parametrize("digits", DIGITS)
def test_snooze_end_time_must_be_ascii_digits(api: Api, digits: str) -> None:
    alert = api.create_alert()

    response = api.post(f"/v1/alerts/{alert['id']}/snooze", json={"endTime": digits})

    assert_error(response, 422)


@pytest.mark.parametrize("digits", DIGITS)
def test_filter_path_index_that_is_not_ascii_matches_nothing(api: Api, digits: str) -> None:
    integration = api.post("/v1/integrations", json={"name": "Hosts"}).get_json()
    base = f"/v1/integrations/{integration['id']}"
    created = api.post(
        f"{base}/actions",
        json={
            "type": "ignore",
            "name": "Ignore by host index",
            "domain": "alert",
            "direction": "incoming",
            "filter": {
                "conditionMatchType": "match-all-conditions",
                "conditions": [
                    {"field": f"hosts.{digits}", "operation": "equals", "expectedValue": "a"}
                ],
            },
        },
    )
    assert created.status_code == 200, created.get_json()

    response = api.post(f"{base}/actions/test", json={"payload": {"hosts": ["a", "b", "c", "d"]}})

    assert response.status_code == 200
    assert response.get_json()["action"]["type"] == "create"  # the ignore filter did not match


@pytest.mark.parametrize("digits", DIGITS)
def test_workspace_reference_that_is_not_ascii_digits_is_not_found(
    session: Session, digits: str
) -> None:
    with pytest.raises(NotFound):
        require_workspace(session, digits)
