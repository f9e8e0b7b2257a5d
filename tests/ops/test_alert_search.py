"""The query language, sort and pagination, table-driven against a known data set."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from provider.ops.alerts.models import Alert
from provider.ops.alerts.models import AlertStatus
from provider.ops.alerts.models import Priority
from provider.ops.lang.query import And
from provider.ops.lang.query import Not
from provider.ops.lang.query import Or
from provider.ops.lang.query import QueryError
from provider.ops.lang.query import Term
from provider.ops.lang.query import parse_query
from provider.times import utcnow
from tests.ops.conftest import Api


def day(n: int) -> datetime:
    return datetime(2024, 1, n, tzinfo=UTC)


DATA: list[dict[str, Any]] = [
    {
        "alias": "web-down",
        "message": "Web server down",
        "description": "nginx not responding",
        "entity": "web-1",
        "source": "pingdom",
        "priority": Priority.P1,
        "tags": ["prod", "web"],
        "extra_properties": {"env": "prod", "region": "eu", "backend": False},
        "count": 5,
        "created_at": day(1),
    },
    {
        "alias": "db-slow",
        "message": "Database slow queries",
        "entity": "db-1",
        "source": "datadog",
        "priority": Priority.P2,
        "tags": ["prod", "db"],
        "extra_properties": {"env": "prod", "region": "us"},
        "acknowledged": True,
        "count": 12,
        "created_at": day(2),
    },
    {
        "alias": "disk-full",
        "message": "Disk full on backup",
        "entity": "backup-1",
        "source": "nagios",
        "priority": Priority.P3,
        "tags": ["staging"],
        "extra_properties": {"env": "staging"},
        "status": AlertStatus.CLOSED,
        "count": 1,
        "created_at": day(3),
    },
    {
        "alias": "cpu-high",
        "message": "CPU high",
        "entity": "web-2",
        "source": "datadog",
        "priority": Priority.P4,
        "tags": ["prod", "web"],
        "extra_properties": {"env": "prod", "team": "Core Team"},
        "snoozed": True,
        "snoozed_until": utcnow() + timedelta(days=1),
        "owner": "alice",
        "count": 3,
        "created_at": day(4),
    },
    {
        "alias": "mem-leak",
        "message": "Memory leak suspected",
        "description": "heap grows",
        "entity": "api-1",
        "source": "prometheus",
        "priority": Priority.P5,
        "integration_name": "Grafana",
        "integration_type": "Grafana",
        "actions": ["Restart"],
        "responders": [{"id": "team-a", "type": "team"}],
        "count": 1,
        "created_at": day(5),
    },
    {
        "alias": "host:8080",
        "message": 'Port "8080" closed',
        "entity": "lb-1",
        "source": "pingdom",
        "priority": Priority.P2,
        "tags": ["prod"],
        "extra_properties": {"env": "prod"},
        "status": AlertStatus.CLOSED,
        "acknowledged": True,
        "count": 7,
        "created_at": day(6),
    },
]
ALL = {d["alias"] for d in DATA}


@pytest.fixture
def dataset(api: Api, other_api: Api, session: Session) -> Api:
    for ws in (api.workspace, other_api.workspace):
        for row in DATA:
            values = {"tags": [], "extra_properties": {}, "description": "", **row}
            session.add(
                Alert(
                    workspace_id=ws.id,
                    updated_at=values["created_at"],
                    last_occurred_at=values["created_at"] + timedelta(hours=values["count"]),
                    **values,
                )
            )
    session.commit()
    return api


QUERIES: list[tuple[str, set[str]]] = [
    ("", ALL),
    ("status:open", {"web-down", "db-slow", "cpu-high", "mem-leak"}),
    ("status: closed", {"disk-full", "host:8080"}),
    ("status:acked", {"db-slow"}),
    ("status:acknowledged", {"db-slow"}),
    ("status:unacked", {"web-down", "cpu-high", "mem-leak"}),
    ("status:snoozed", {"cpu-high"}),
    ("priority:P1", {"web-down"}),
    ("priority:p2", {"db-slow", "host:8080"}),
    ("priority < P3", {"web-down", "db-slow", "host:8080"}),
    ("priority >= P4", {"cpu-high", "mem-leak"}),
    ("alias:web-down", {"web-down"}),
    ('alias:"host:8080"', {"host:8080"}),
    ("alias:host:8080", {"host:8080"}),
    ("message:server", {"web-down"}),
    ("message:DISK", {"disk-full"}),
    ('message:"slow queries"', {"db-slow"}),
    ('message:"\\"8080\\""', {"host:8080"}),
    ("message:(disk OR memory)", {"disk-full", "mem-leak"}),
    ("description:nginx", {"web-down"}),
    ("entity:web", {"web-down", "cpu-high"}),
    ("source:datadog", {"db-slow", "cpu-high"}),
    ("owner:alice", {"cpu-high"}),
    ("tag:prod", {"web-down", "db-slow", "cpu-high", "host:8080"}),
    ("tags:web", {"web-down", "cpu-high"}),
    ("tag:PROD AND tag:db", {"db-slow"}),
    ("tag:staging OR tag:db", {"disk-full", "db-slow"}),
    ("NOT tag:prod", {"disk-full", "mem-leak"}),
    ("details.env:prod", {"web-down", "db-slow", "cpu-high", "host:8080"}),
    ("details.region:eu", {"web-down"}),
    ("extraProperties.region:US", {"db-slow"}),
    ('details.team:"core team"', {"cpu-high"}),
    ("details.backend:false", {"web-down"}),
    ("details.region:*", {"web-down", "db-slow"}),
    ("count > 5", {"db-slow", "host:8080"}),
    ("count >= 5", {"web-down", "db-slow", "host:8080"}),
    ("count:1", {"disk-full", "mem-leak"}),
    ("count < 3", {"disk-full", "mem-leak"}),
    ("createdAt < 2024-01-03", {"web-down", "db-slow"}),
    ("createdAt >= 2024-01-05T00:00:00Z", {"mem-leak", "host:8080"}),
    ("createdAt > 1704326400000", {"mem-leak", "host:8080"}),  # 2024-01-04
    ('createdAt <= "2024-01-01T00:00:00+00:00"', {"web-down"}),
    (
        "lastOccurredAt > 2024-01-02T06:00:00Z",
        {"db-slow", "disk-full", "cpu-high", "mem-leak", "host:8080"},
    ),
    ("updatedAt < 2024-01-02", {"web-down"}),
    ("acknowledged:true", {"db-slow", "host:8080"}),
    ("snoozed:false", ALL - {"cpu-high"}),
    ("integration.name:grafana", {"mem-leak"}),
    ("integrationType:API", ALL - {"mem-leak"}),
    ("actions:restart", {"mem-leak"}),
    ("responders:team-a", {"mem-leak"}),
    ("status:open AND priority:P1 OR priority:P5", {"web-down", "mem-leak"}),
    ("status:open AND (priority:P1 OR priority:P5)", {"web-down", "mem-leak"}),
    ("status:closed AND (priority:P1 OR priority:P5)", set()),
    ("NOT (status:closed OR tag:prod)", {"mem-leak"}),
    ("not status:closed and not tag:web", {"db-slow", "mem-leak"}),
    ("tag:prod status:closed", {"host:8080"}),
    ('"web-1"', {"web-down"}),
    ("leak", {"mem-leak"}),
    ("nginx OR backup", {"web-down", "disk-full"}),
    ('"and"', set()),
]


@pytest.mark.parametrize(("query", "expected"), QUERIES, ids=[q or "<empty>" for q, _ in QUERIES])
def test_query_selects_expected_alerts(dataset: Api, query: str, expected: set[str]) -> None:
    response = dataset.get("/v1/alerts", query_string={"query": query, "size": 100})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert {a["alias"] for a in body["values"]} == expected
    assert body["count"] == len(expected)


INVALID: list[tuple[str, int]] = [
    ("status:(open", 12),
    ("status:open AND", 15),
    ("(tag:prod", 9),
    ("tag:prod)", 8),
    ('message:"unterminated', 8),
    ("nosuchfield:x", 0),
    ("status:sideways", 7),
    ("priority:P9", 9),
    ("count > many", 8),
    ("createdAt > yesterday", 12),
    ("tag > 3", 0),
    ("status:", 7),
    ("OR tag:prod", 0),
    ("(" * 40 + "x" + ")" * 40, 32),
]


@pytest.mark.parametrize(("query", "position"), INVALID)
def test_invalid_query_is_422_naming_the_position(dataset: Api, query: str, position: int) -> None:
    response = dataset.get("/v1/alerts", query_string={"query": query})
    assert response.status_code == 422, response.get_json()
    (error,) = response.get_json()["errors"]
    assert error["code"] == "invalid_query"
    assert f"at position {position}" in error["title"]
    assert error["source"]["position"] == position


def test_parser_builds_the_expected_tree() -> None:
    tree = parse_query("a:1 OR NOT b:2 c:3")
    assert isinstance(tree, Or)
    left, right = tree.nodes
    assert left == Term("a", ":", "1", 0, 2)
    assert isinstance(right, And)
    assert isinstance(right.nodes[0], Not)
    with pytest.raises(QueryError) as info:
        parse_query("a:1 )")
    assert info.value.position == 4


def _aliases(api: Api, **params: Any) -> list[str]:
    response = api.get("/v1/alerts", query_string=params)
    assert response.status_code == 200, response.get_json()
    return [a["alias"] for a in response.get_json()["values"]]


def test_default_sort_is_created_at_desc(dataset: Api) -> None:
    assert _aliases(dataset) == [d["alias"] for d in reversed(DATA)]


@pytest.mark.parametrize(
    ("sort", "order", "expected"),
    [
        ("createdAt", "asc", [d["alias"] for d in DATA]),
        ("insertedAt", "asc", [d["alias"] for d in DATA]),
        (
            "count",
            "desc",
            ["db-slow", "host:8080", "web-down", "cpu-high", "mem-leak", "disk-full"],
        ),
        (
            "priority",
            "asc",
            ["web-down", "db-slow", "host:8080", "disk-full", "cpu-high", "mem-leak"],
        ),
        ("lastOccurredAt", "asc", [d["alias"] for d in DATA]),
    ],
)
def test_sort_with_stable_tie_breaker(
    dataset: Api, sort: str, order: str, expected: list[str]
) -> None:
    assert _aliases(dataset, sort=sort, order=order) == expected


def test_pagination_walks_every_alert_once(dataset: Api) -> None:
    seen: list[str] = []
    url: str | None = "/v1/alerts?size=4&sort=count&order=asc&query=NOT%20alias:nothing"
    while url:
        body = dataset.get(url).get_json()
        seen += [a["alias"] for a in body["values"]]
        assert body["count"] == len(DATA)
        url = body["links"].get("next")
    assert sorted(seen) == sorted(ALL)
    assert len(seen) == len(DATA)


def test_from_and_to_bound_created_at(dataset: Api) -> None:
    got = _aliases(dataset, **{"from": "1704153600000", "to": "2024-01-04T00:00:00Z"})
    assert got == ["disk-full", "db-slow"]


@pytest.mark.parametrize(
    "params",
    [
        {"offset": "19990", "size": "10"},
        {"offset": "19999", "size": "1"},
        {"size": "101"},
        {"size": "0"},
        {"offset": "-1"},
        {"offset": "x"},
        {"sort": "password"},
        {"order": "sideways"},
        {"from": "yesterday"},
    ],
)
def test_bad_paging_and_sort_are_422(dataset: Api, params: dict[str, str]) -> None:
    response = dataset.get("/v1/alerts", query_string=params)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["errors"][0]["code"] == "validation_failed"


def test_window_edge_is_allowed(dataset: Api) -> None:
    body = dataset.get("/v1/alerts", query_string={"offset": "19899", "size": "100"}).get_json()
    assert body["values"] == []


# ── hostile queries cost little and never fail the server (outside review) ─────────────────────


@pytest.mark.parametrize("negations", [499, 500, 997])
def test_a_long_chain_of_not_is_answered(dataset: Api, negations: int) -> None:
    query = "NOT " * negations + "tag:prod"
    response = dataset.get("/v1/alerts", query_string={"query": query, "size": 100})
    assert response.status_code == 200, response.get_json()
    prod = {"web-down", "db-slow", "cpu-high", "host:8080"}
    got = {a["alias"] for a in response.get_json()["values"]}
    assert got == (ALL - prod if negations % 2 else prod)


def test_the_largest_query_allowed_runs_on_every_backend(dataset: Api) -> None:
    query = " OR ".join(f"message:word{n}" for n in range(99)) + " OR tag:staging"
    response = dataset.get("/v1/alerts", query_string={"query": query, "size": 100})
    assert response.status_code == 200, response.get_json()
    assert {a["alias"] for a in response.get_json()["values"]} == {"disk-full"}


@pytest.mark.parametrize("terms", [101, 300])
def test_more_terms_than_allowed_is_422_with_the_position(dataset: Api, terms: int) -> None:
    words = [f"tag:t{n}" for n in range(terms)]
    query = " OR ".join(words)
    response = dataset.get("/v1/alerts", query_string={"query": query})
    assert response.status_code == 422, response.get_json()
    (error,) = response.get_json()["errors"]
    assert error["source"]["position"] == query.index(words[100])
    assert "at most 100 terms" in error["title"]
