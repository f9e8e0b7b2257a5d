"""HostClient over real HTTP on loopback: signing, site confinement, errors."""

from __future__ import annotations

import socket
from datetime import timedelta
from email.utils import format_datetime

import jwt as pyjwt
import pytest

from provider import __version__
from provider.connect.http import HostClient
from provider.connect.http import HttpOptions
from provider.connect.http import JiraHttpError
from provider.connect.http import JiraNetworkError
from provider.connect.http import OffSiteUrl
from provider.connect.http import parse_retry_after
from provider.connect.jwt import canonical_request
from provider.connect.jwt import query_string_hash
from provider.times import utcnow
from tests.recording import Answer
from tests.recording import recording_server

SECRET = "shared-secret-of-the-site-0123456789"
APP_KEY = "ops-provider-test"


def _client(url: str, **kw: object) -> HostClient:
    return HostClient(base_url=url, shared_secret=SECRET, app_key=APP_KEY, **kw)  # type: ignore[arg-type]


def _claims(recorded) -> dict:  # type: ignore[no-untyped-def]
    scheme, token = recorded.headers["Authorization"].split(" ", 1)
    assert scheme == "JWT"
    return pyjwt.decode(token, SECRET, algorithms=["HS256"])


def test_request_is_signed_with_qsh_of_what_was_received_under_a_base_path() -> None:
    with recording_server(lambda r: Answer(200, {"ok": True})) as server:
        client = _client(f"{server.url}/sites/acme/")
        response = client.request(
            "GET",
            "/rest/operations/1.0/linkedWorkspaces",
            params={"workspaceId": "a b,c*~", "z": "1", "a": "é"},
        )
    assert response.json() == {"ok": True}
    (received,) = server.requests
    assert received.raw_path == "/sites/acme/rest/operations/1.0/linkedWorkspaces"
    claims = _claims(received)
    # The qsh is recomputed from the request as the server saw it, base path stripped.
    expected = query_string_hash(
        canonical_request("GET", received.raw_path, received.raw_query, base_path="/sites/acme")
    )
    assert claims["qsh"] == expected
    assert claims["iss"] == APP_KEY
    assert claims["exp"] - claims["iat"] == 180
    assert received.headers["User-Agent"] == f"ops-provider/{__version__} (+{APP_KEY})"


def test_each_request_gets_a_fresh_token_for_its_own_url() -> None:
    with recording_server() as server:
        client = _client(server.url)
        client.request("POST", "/rest/devopscomponents/1.0/bulk", json={"x": 1})
        client.request("DELETE", "/rest/devopscomponents/1.0/bulkByProperties", params={"a": "b"})
    first, second = (_claims(r) for r in server.requests)
    assert first["qsh"] != second["qsh"]
    assert first["qsh"] == query_string_hash("POST&/rest/devopscomponents/1.0/bulk&")
    assert server.requests[0].json() == {"x": 1}


def test_a_token_signed_with_another_secret_does_not_verify() -> None:
    with recording_server() as server:
        _client(server.url).request("GET", "/x")
    token = server.requests[0].headers["Authorization"].split(" ", 1)[1]
    with pytest.raises(pyjwt.InvalidSignatureError):
        pyjwt.decode(token, "another-secret-0123456789012345678", algorithms=["HS256"])


@pytest.mark.parametrize(
    "path",
    [
        "https://evil.example.com/rest",
        "//evil.example.com/rest",
        "rest/operations",
        "/../other-site/rest",
        "/rest/./x",
        "/\\evil",
    ],
)
def test_paths_that_would_leave_the_site_are_refused_before_sending(path: str) -> None:
    with recording_server() as server, pytest.raises(OffSiteUrl):
        _client(f"{server.url}/sites/acme").request("GET", path)
    assert server.requests == []


def test_redirects_are_not_followed_so_the_token_stays_on_the_site() -> None:
    with recording_server(lambda r: Answer(202)) as elsewhere:
        target = f"{elsewhere.url}/stolen"
        redirect = Answer(302, headers={"Location": target})
        with recording_server(lambda r: redirect) as site, pytest.raises(JiraHttpError) as info:
            _client(site.url).request("POST", "/rest/operations/1.0/bulk", json={})
    assert info.value.status == 302
    assert elsewhere.requests == []


def test_error_status_carries_body_and_retry_after_seconds() -> None:
    body = [{"message": "API rate limit has been exceeded", "errorTraceId": "t1"}]
    answer = Answer(429, body, {"Retry-After": "7"})
    with recording_server(lambda r: answer) as server, pytest.raises(JiraHttpError) as info:
        _client(server.url).request("GET", "/x")
    assert info.value.status == 429
    assert info.value.retry_after == 7.0
    assert info.value.messages() == ["API rate limit has been exceeded"]


def test_retry_after_as_http_date() -> None:
    when = format_datetime(utcnow() + timedelta(seconds=30), usegmt=True)
    answer = Answer(503, "maintenance", {"Retry-After": when})
    with recording_server(lambda r: answer) as server, pytest.raises(JiraHttpError) as info:
        _client(server.url).request("GET", "/x")
    assert info.value.retry_after is not None
    assert 25 <= info.value.retry_after <= 30
    assert info.value.messages() == ["maintenance"]


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "Mon, 99 Foo 2020"])
def test_unusable_retry_after_values(value: str | None) -> None:
    parsed = parse_retry_after(value)
    assert parsed is None or parsed == 0.0


def test_connection_refused_is_a_network_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(JiraNetworkError):
        _client(f"http://127.0.0.1:{port}").request("GET", "/x")


def test_a_slow_answer_times_out_as_a_network_error() -> None:
    with recording_server(lambda r: Answer(202, {}, delay=1.0)) as server:
        client = _client(server.url, options=HttpOptions(connect_timeout=1, read_timeout=0.2))
        with pytest.raises(JiraNetworkError):
            client.request("GET", "/x")


def test_a_dropped_connection_is_a_network_error() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    import threading

    def accept_and_drop() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.close()

    thread = threading.Thread(target=accept_and_drop, daemon=True)
    thread.start()
    try:
        with pytest.raises(JiraNetworkError):
            _client(f"http://127.0.0.1:{port}").request("GET", "/x")
    finally:
        thread.join(2)
        listener.close()


def test_a_base_url_that_is_not_http_is_refused() -> None:
    with pytest.raises(OffSiteUrl):
        _client("file:///etc")


def test_the_secret_is_not_in_the_auth_repr() -> None:
    client = _client("https://acme.atlassian.net")
    assert SECRET not in repr(client._auth)


def test_forge_mode_sends_the_system_token_as_a_bearer_to_the_api_base_url() -> None:
    with recording_server() as server:
        client = HostClient(
            base_url=f"{server.url}/ex/jira/cloud-1", system_token="sys-token", app_key=APP_KEY
        )
        client.request("POST", "/rest/operations/1.0/bulk", json={"incidents": []})
        with pytest.raises(OffSiteUrl):
            client.request("GET", "/../../ex/jira/cloud-2/rest/operations/1.0/bulk")
    (received,) = server.requests
    assert received.raw_path == "/ex/jira/cloud-1/rest/operations/1.0/bulk"
    assert received.headers["Authorization"] == "Bearer sys-token"
    assert "sys-token" not in repr(client._auth)


@pytest.mark.parametrize("credentials", [{}, {"shared_secret": SECRET, "system_token": "t"}])
def test_a_client_takes_exactly_one_credential(credentials: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="either"):
        HostClient(base_url="https://x.atlassian.net", app_key=APP_KEY, **credentials)
