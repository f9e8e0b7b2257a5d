"""Signed install: the exact callback Jira sends, verified with the product's own verifier."""

from __future__ import annotations

import pytest
import requests
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from jira_simulator import Simulator
from jira_simulator import SimulatorError
from provider.connect.jwt import JwtError
from provider.connect.jwt import RequestTarget
from provider.connect.jwt import key_id_of
from provider.connect.jwt import verify_install_jwt
from tests.jira_simulator.helpers import APP_KEY
from tests.jira_simulator.helpers import RecordingApp

INSTALL_FIELDS = {
    "key",
    "clientKey",
    "sharedSecret",
    "baseUrl",
    "displayUrl",
    "productType",
    "description",
    "eventType",
    "cloudId",
    "serverVersion",
    "pluginsVersion",
}


def _key_from_server(sim: Simulator, token: str):  # type: ignore[no-untyped-def]
    answer = requests.get(f"{sim.keys_url}/{key_id_of(token)}", timeout=5)
    if answer.status_code != 200:
        raise JwtError("unknown kid", code="unknown_kid")
    return load_pem_public_key(answer.content)


def _verify(sim: Simulator, recorded, audience: str) -> dict:  # type: ignore[no-untyped-def]
    token = recorded.headers["Authorization"].removeprefix("JWT ")
    path, _, query = recorded.raw_uri.partition("?")
    return verify_install_jwt(
        token,
        RequestTarget("POST", path, query),
        client_key=recorded.body["clientKey"],
        audience=audience,
        public_key=_key_from_server(sim, token),
    )


def test_install_posts_signed_installed_then_enabled(
    sim: Simulator, recording: RecordingApp, recording_url: str
) -> None:
    result = sim.install("acme", f"{recording_url}/atlassian-connect.json")

    assert result.ok
    assert [c.path for c in recording.calls] == ["/installed", "/enabled"]
    installed = recording.last("/installed")
    site = sim.site("acme")
    assert set(installed.body) == INSTALL_FIELDS
    assert installed.body["key"] == APP_KEY
    assert installed.body["clientKey"] == site.client_key
    assert installed.body["sharedSecret"] == site.shared_secret
    assert installed.body["baseUrl"] == f"{sim.url}/sites/acme"
    assert installed.body["cloudId"] == site.cloud_id
    assert installed.body["eventType"] == "installed"
    assert installed.body["productType"] == "jira"
    claims = _verify(sim, installed, recording_url)
    assert claims["iss"] == site.client_key
    assert claims["aud"] == recording_url
    assert claims["exp"] > claims["iat"]
    enabled = recording.last("/enabled")
    assert enabled.body["eventType"] == "enabled"
    _verify(sim, enabled, recording_url)
    assert sim.state("acme")["state"] == "enabled"
    assert sim.state("acme")["app"]["scopes"] == ["DELETE", "READ", "WRITE"]


def test_install_token_does_not_verify_for_another_audience_or_client(
    sim: Simulator, recording: RecordingApp, recording_url: str
) -> None:
    sim.install("acme", f"{recording_url}/atlassian-connect.json")
    installed = recording.last("/installed")

    with pytest.raises(JwtError):
        _verify(sim, installed, "https://other-app.example.com")
    installed.body["clientKey"] = "jira:someone-else"
    with pytest.raises(JwtError):
        _verify(sim, installed, recording_url)


def test_key_server_serves_pem_and_404_for_unknown_kid(sim: Simulator) -> None:
    good = requests.get(f"{sim.keys_url}/{sim.keys.kid}", timeout=5)
    unknown = requests.get(f"{sim.keys_url}/not-a-kid", timeout=5)

    assert good.status_code == 200
    assert good.text.startswith("-----BEGIN PUBLIC KEY-----")
    assert unknown.status_code == 404


def test_reinstall_rotates_the_shared_secret(
    sim: Simulator, recording: RecordingApp, recording_url: str
) -> None:
    sim.install("acme", f"{recording_url}/atlassian-connect.json")
    first = recording.last("/installed").body["sharedSecret"]
    sim.install("acme", f"{recording_url}/atlassian-connect.json")
    second = recording.last("/installed").body["sharedSecret"]

    assert first != second
    assert sim.site("acme").shared_secret == second


def test_failed_install_keeps_the_previous_installation(
    sim: Simulator, recording: RecordingApp, recording_url: str
) -> None:
    sim.install("acme", f"{recording_url}/atlassian-connect.json")
    secret = sim.site("acme").shared_secret
    recording.lifecycle_status = 401

    result = sim.install("acme", f"{recording_url}/atlassian-connect.json")

    assert not result.ok
    assert result["installed"].status_code == 401
    assert "enabled" not in result.responses
    assert sim.site("acme").shared_secret == secret
    assert sim.state("acme")["state"] == "enabled"


def test_unsigned_install_sends_no_authorization(
    sim: Simulator, recording: RecordingApp, recording_url: str
) -> None:
    sim.install("acme", f"{recording_url}/atlassian-connect.json", sign=False)

    assert "Authorization" not in recording.last("/installed").headers


def test_disable_enable_uninstall_are_signed(
    installed: Simulator, recording: RecordingApp, recording_url: str
) -> None:
    installed.disable("acme")
    assert installed.state("acme")["state"] == "disabled"
    installed.enable("acme")
    assert installed.state("acme")["state"] == "enabled"
    installed.uninstall("acme")

    for path in ("/disabled", "/enabled", "/uninstalled"):
        _verify(installed, recording.last(path), recording_url)
    assert recording.last("/uninstalled").body["eventType"] == "uninstalled"
    assert installed.state("acme")["state"] == "uninstalled"
    with pytest.raises(SimulatorError):
        installed.fetch_workspaces("acme", ["ws-1"])


def test_install_from_an_unreachable_descriptor_raises(sim: Simulator) -> None:
    with pytest.raises(SimulatorError):
        sim.install("acme", f"{sim.url}/no/such/descriptor.json")
