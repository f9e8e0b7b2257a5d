"""HttpJiraClient: one method per endpoint, checked on the wire against a recording server."""

from __future__ import annotations

import jwt as pyjwt
import pytest

from provider import __version__
from provider.connect.http import JiraHttpError
from provider.connect.jwt import canonical_request
from provider.connect.jwt import query_string_hash
from provider.jira.client import HttpJiraClient
from provider.jira.client import parse_bulk_result
from tests.recording import Answer
from tests.recording import Recorded
from tests.recording import recording_server

SECRET = "site-secret-0123456789-0123456789"
APP_KEY = "ops-provider-test"
PROPS = {"workspaceId": "ws-1"}


def _client(url: str) -> HttpJiraClient:
    return HttpJiraClient(
        base_url=f"{url}/jira", shared_secret=SECRET, app_key=APP_KEY, product="ops-provider"
    )


def _verify(r: Recorded) -> None:
    token = r.headers["Authorization"].removeprefix("JWT ")
    claims = pyjwt.decode(token, SECRET, algorithms=["HS256"])
    assert claims["iss"] == APP_KEY
    assert claims["qsh"] == query_string_hash(
        canonical_request(r.method, r.raw_path, r.raw_query, base_path="/jira")
    )


def _one(server) -> Recorded:  # type: ignore[no-untyped-def]
    (r,) = server.requests
    _verify(r)
    return r


def test_submit_components_uses_devops_components_key_properties_and_metadata() -> None:
    answer = {
        "acceptedComponents": ["c1"],
        "failedComponents": {"c2": [{"message": "name too long", "errorTraceId": "x"}]},
        "unknownProjectKeys": ["OPS"],
    }
    with recording_server(lambda r: Answer(202, answer)) as server:
        result = _client(server.url).submit_components(
            [{"id": "c1"}, {"id": "c2"}], properties=PROPS
        )
    r = _one(server)
    assert (r.method, r.raw_path) == ("POST", "/jira/rest/devopscomponents/1.0/bulk")
    assert r.json() == {
        "devopsComponents": [{"id": "c1"}, {"id": "c2"}],
        "properties": {"workspaceId": "ws-1"},
        "providerMetadata": {"product": f"ops-provider {__version__}"},
    }
    assert result.accepted == ["c1"]
    assert result.failed == {"c2": ["name too long"]}
    assert result.unknown_project_keys == ["OPS"]


def test_incidents_and_reviews_go_in_separate_requests() -> None:
    with recording_server(lambda r: Answer(202, {"acceptedIncidents": ["i1"]})) as server:
        client = _client(server.url)
        client.submit_incidents([{"id": "i1"}], properties=PROPS)
        result = client.submit_reviews([{"id": "r1"}], properties=PROPS)
    first, second = server.requests
    for r in (first, second):
        _verify(r)
        assert (r.method, r.raw_path) == ("POST", "/jira/rest/operations/1.0/bulk")
    assert set(first.json()) == {"incidents", "properties", "providerMetadata"}
    assert set(second.json()) == {"reviews", "properties", "providerMetadata"}
    # Jira documents only the …Incidents result fields, even for reviews.
    assert result.accepted == ["i1"]
    assert result.failed == {}


def test_review_failures_are_read_from_either_field_name() -> None:
    answer = {"failedIncidents": {"r1": [{"message": "bad status"}]}, "failedReviews": {}}
    with recording_server(lambda r: Answer(202, answer)) as server:
        result = _client(server.url).submit_reviews([{"id": "r1"}], properties=PROPS)
    assert result.failed == {"r1": ["bad status"]}


@pytest.mark.parametrize("body", [None, "", "not json", [], {"acceptedIncidents": "x"}, 42])
def test_202_bodies_are_parsed_leniently(body: object) -> None:
    with recording_server(lambda r: Answer(202, body)) as server:
        result = _client(server.url).submit_incidents([{"id": "i1"}], properties=PROPS)
    assert result.failed == {}
    assert result.unknown_project_keys == []


def test_failed_entries_in_odd_shapes_still_yield_messages() -> None:
    result = parse_bulk_result(
        {"failedIncidents": {"a": [], "b": "bad", "c": [{"nomessage": 1}], "d": None}}, "Incidents"
    )
    assert set(result.failed) == {"a", "b", "c", "d"}
    assert all(messages for messages in result.failed.values())


def test_linked_workspaces_submit_get_delete() -> None:
    def respond(r: Recorded) -> Answer:
        if r.method == "POST":
            return Answer(202, {"acceptedWorkspaceIds": ["ws-1"]})
        if r.method == "GET":
            return Answer(200, {"workspaceIds": ["ws-1", "ws-2"]})
        return Answer(202)

    with recording_server(respond) as server:
        client = _client(server.url)
        assert client.submit_linked_workspaces(["ws-1"]) == ["ws-1"]
        assert client.get_linked_workspaces() == ["ws-1", "ws-2"]
        client.delete_linked_workspaces(["ws-1", "ws-2"])
    post, get, delete = server.requests
    for r in server.requests:
        _verify(r)
    assert post.raw_path == "/jira/rest/operations/1.0/linkedWorkspaces/bulk"
    assert post.json() == {"workspaceIds": ["ws-1"]}
    assert get.raw_path == "/jira/rest/operations/1.0/linkedWorkspaces"
    assert delete.method == "DELETE"
    assert delete.raw_path == "/jira/rest/operations/1.0/linkedWorkspaces/bulk"
    assert delete.raw_query == "workspaceIds=ws-1%2Cws-2"


def test_get_linked_workspace_by_id_404_is_empty() -> None:
    with recording_server(lambda r: Answer(404, [{"message": "not found"}])) as server:
        assert _client(server.url).get_linked_workspaces("nope") == []
    assert _one(server).raw_query == "workspaceId=nope"


def test_delete_by_properties_on_both_apis() -> None:
    with recording_server() as server:
        client = _client(server.url)
        client.delete_operations_by_properties({"workspaceId": "ws 1"})
        client.delete_components_by_properties({"workspaceId": "ws 1"})
    ops, comps = server.requests
    for r in server.requests:
        _verify(r)
        assert r.method == "DELETE"
    assert ops.raw_path == "/jira/rest/operations/1.0/bulkByProperties"
    assert comps.raw_path == "/jira/rest/devopscomponents/1.0/bulkByProperties"
    assert ops.raw_query == "workspaceId=ws+1"


def test_get_and_delete_by_id_paths() -> None:
    def respond(r: Recorded) -> Answer:
        if r.method == "GET":
            return Answer(404) if "missing" in r.raw_path else Answer(200, {"id": "x"})
        return Answer(202)

    with recording_server(respond) as server:
        client = _client(server.url)
        assert client.get_incident("i/1") == {"id": "x"}
        assert client.get_review("missing") is None
        assert client.get_component("c1") == {"id": "x"}
        client.delete_incident("i1")
        client.delete_review("r1")
        client.delete_component("c1")
    paths = [(r.method, r.raw_path) for r in server.requests]
    for r in server.requests:
        _verify(r)
    assert paths == [
        ("GET", "/jira/rest/operations/1.0/incidents/i%2F1"),
        ("GET", "/jira/rest/operations/1.0/post-incident-reviews/missing"),
        ("GET", "/jira/rest/devopscomponents/1.0/devopscomponents/c1"),
        ("DELETE", "/jira/rest/operations/1.0/incidents/i1"),
        ("DELETE", "/jira/rest/operations/1.0/post-incident-reviews/r1"),
        ("DELETE", "/jira/rest/devopscomponents/1.0/devopscomponents/c1"),
    ]


def test_request_level_400_raises_with_jiras_message() -> None:
    body = [{"message": "Bad format", "errorTraceId": "t"}]
    with (
        recording_server(lambda r: Answer(400, body)) as server,
        pytest.raises(JiraHttpError) as info,
    ):
        _client(server.url).submit_components([{"id": "c"}], properties=PROPS)
    assert info.value.status == 400
    assert info.value.messages() == ["Bad format"]


@pytest.mark.parametrize(
    ("entities", "properties"),
    [
        ([], PROPS),
        ([{"id": str(i)} for i in range(1001)], PROPS),
        ([{"id": "c"}], {}),
        ([{"id": "c"}], {"a:b": "x"}),
        ([{"id": "c"}], {"_x": "x"}),
        ([{"id": "c"}], {str(i): "x" for i in range(6)}),
        ([{"id": "c"}], {"workspaceId": "x" * 256}),
    ],
)
def test_requests_jira_would_reject_are_not_sent(entities: list, properties: dict) -> None:
    with recording_server() as server, pytest.raises(ValueError):  # noqa: PT011 - varies by rule
        _client(server.url).submit_components(entities, properties=properties)
    assert server.requests == []
