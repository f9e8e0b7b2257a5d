"""Alert lists count their matches up to the window a list can be read in; counts stay exact
below it, and Opsgenie's count endpoint stays exact beyond it."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import insert
from sqlalchemy.orm import Session

from provider.ops.alerts.models import Alert
from provider.ops.alerts.models import AlertStatus
from provider.ops.alerts.schemas import AlertListQuery
from provider.ops.alerts.search import search_alerts
from provider.times import utcnow
from tests.ops.conftest import Api

WINDOW = AlertListQuery.WINDOW
MANY = WINDOW + 10


def _add_alerts(session: Session, workspace_id: int, n: int) -> None:
    now = utcnow()
    rows = [
        {
            "public_id": str(uuid.uuid4()),
            "workspace_id": workspace_id,
            "alias": f"a-{i}",
            # one in ten open, as in a real history
            "status": AlertStatus.OPEN if i % 10 == 0 else AlertStatus.CLOSED,
            "message": f"alert {i}",
            "created_at": now - timedelta(seconds=n - i),
            "updated_at": now,
            "last_occurred_at": now,
        }
        for i in range(n)
    ]
    for start in range(0, n, 5000):
        session.execute(insert(Alert), rows[start : start + 5000])


@pytest.fixture
def history(api: Api, other_api: Api, session: Session) -> Api:
    """More alerts than a list can be read through, and a few in another workspace."""
    _add_alerts(session, api.workspace.id, MANY)
    _add_alerts(session, other_api.workspace.id, 30)
    session.commit()
    return api


def test_a_list_beyond_the_window_counts_up_to_the_window(history: Api) -> None:
    body = history.get("/v1/alerts").get_json()
    assert body["count"] == WINDOW
    assert [a["alias"] for a in body["values"]] == [f"a-{MANY - 1 - i}" for i in range(20)]
    assert "next" in body["links"]


def test_the_deepest_page_has_no_next(history: Api) -> None:
    query = {"offset": str(WINDOW - 100), "size": "99"}
    body = history.get("/v1/alerts", query_string=query).get_json()
    assert body["count"] == WINDOW
    newest_skipped = MANY - 1 - (WINDOW - 100)
    assert [a["alias"] for a in body["values"]] == [f"a-{newest_skipped - i}" for i in range(99)]
    assert "next" not in body["links"]


def test_a_filtered_list_below_the_window_counts_exactly(history: Api) -> None:
    opened = [f"a-{i}" for i in reversed(range(0, MANY, 10))]
    query = {"query": "status:open", "offset": "30", "size": "5"}
    body = history.get("/v1/alerts", query_string=query).get_json()
    assert body["count"] == len(opened)
    assert [a["alias"] for a in body["values"]] == opened[30:35]
    closed = history.get("/v1/alerts", query_string={"query": "status:closed AND alias:a-1"})
    assert closed.get_json()["count"] == 1


def test_opsgenie_count_is_exact_beyond_the_window(history: Api) -> None:
    assert history.get("/v2/alerts/count").get_json()["data"]["count"] == MANY
    query = {"query": "status:open"}
    assert history.get("/v2/alerts/count", query_string=query).get_json()["data"]["count"] == len(
        range(0, MANY, 10)
    )


def test_opsgenie_list_pages_on_beyond_the_window(history: Api) -> None:
    body = history.get("/v2/alerts", query_string={"limit": "100"}).get_json()
    assert len(body["data"]) == 100
    assert "offset=100" in body["paging"]["next"]


@pytest.mark.parametrize(("up_to", "expected"), [(None, 30), (31, 30), (30, 30), (7, 7), (1, 1)])
def test_search_counts_up_to_what_it_is_told(
    other_api: Api, session: Session, up_to: int | None, expected: int
) -> None:
    _add_alerts(session, other_api.workspace.id, 30)
    session.commit()
    alerts, total = search_alerts(session, other_api.workspace.id, size=5, count_up_to=up_to)
    assert (len(alerts), total) == (5, expected)
