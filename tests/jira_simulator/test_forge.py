"""The simulator plays Forge: a JWKS, invocation tokens, system tokens taken back at apiBaseUrl."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from jira_simulator import Simulator
from jira_simulator.keys import KeyPair
from provider.connect.fit import invocation_key_id
from provider.connect.fit import verify_invocation
from provider.connect.forge_keys import parse_jwks
from tests.jira_simulator.helpers import RecordingApp
from tests.jira_simulator.helpers import incident

LINKED = "/rest/operations/1.0/linkedWorkspaces"


@pytest.fixture
def forge_sim(sim_keys: KeyPair) -> Iterator[Simulator]:
    with Simulator(sites=("acme",), keys=sim_keys, forge_keys=sim_keys) as simulator:
        yield simulator


@pytest.fixture
def forge_installed(forge_sim: Simulator, recording: RecordingApp, recording_url: str) -> Simulator:
    result = forge_sim.install("acme", f"{recording_url}/atlassian-connect.json", forge=True)
    assert result.ok, {k: r.status_code for k, r in result.responses.items()}
    return forge_sim


def _verified(sim: Simulator, authorization: str) -> dict[str, object]:
    token = authorization.removeprefix("Bearer ")
    keys = parse_jwks(requests.get(sim.forge_jwks_url, timeout=5).content)
    invocation = verify_invocation(
        token, public_key=keys[invocation_key_id(token)], app_id=sim.forge.app_id
    )
    return {
        "installation": invocation.installation_id,
        "cloud": invocation.cloud_id,
        "api": invocation.api_base_url,
    }


def test_a_forge_install_sends_the_installation_id_then_forges_install_event(
    forge_installed: Simulator, recording: RecordingApp
) -> None:
    site = forge_installed.site("acme")
    assert [c.path for c in recording.calls] == ["/installed", "/forge/invocations"]
    assert recording.last("/installed").body["installationId"] == site.forge_installation_id
    event = recording.last("/forge/invocations")
    assert event.body["eventType"] == "avi:forge:installed:app"
    assert _verified(forge_installed, event.headers["Authorization"]) == {
        "installation": site.forge_installation_id,
        "cloud": site.cloud_id,
        "api": f"{forge_installed.url}/ex/jira/{site.cloud_id}",
    }
    assert event.headers["X-Forge-Oauth-System"] in site.system_tokens
    assert site.state == "enabled"


def test_a_forge_site_invokes_the_actions_with_invocation_tokens(
    forge_installed: Simulator, recording: RecordingApp
) -> None:
    assert forge_installed.search_containers("acme", "check").status_code == 200
    call = recording.last("/containers/search")
    assert call.method == "GET"
    assert _verified(forge_installed, call.headers["Authorization"])["cloud"] == (
        forge_installed.site("acme").cloud_id
    )
    # The admin page stays a Connect module: a page JWT in the query.
    forge_installed.open_admin_page("acme")
    assert "jwt=" in recording.last("/admin").raw_uri


def _api(
    sim: Simulator, token: str, path: str = LINKED, method: str = "GET", **kw: object
) -> requests.Response:
    site = sim.site("acme")
    return requests.request(
        method,
        f"{sim.url}/ex/jira/{site.cloud_id}{path}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
        **kw,  # type: ignore[arg-type]
    )


def _issued(sim: Simulator) -> str:
    with sim.world.lock:
        return sim.forge.system_token(sim.site("acme"))


def test_system_tokens_are_refused_on_the_ops_apis_as_jira_documents(
    forge_installed: Simulator,
) -> None:
    answer = _api(forge_installed, _issued(forge_installed))
    assert answer.status_code == 403
    assert "Only Connect apps" in answer.json()[0]["message"]


def test_with_forge_tokens_accepted_the_site_takes_them_at_its_api_base_url(
    forge_installed: Simulator,
) -> None:
    forge_installed.forge.accepts_system_tokens = True
    token = _issued(forge_installed)
    assert _api(forge_installed, token).status_code == 200
    submitted = _api(
        forge_installed,
        token,
        "/rest/operations/1.0/bulk",
        "POST",
        json={"properties": {"workspaceId": "ws-1"}, "incidents": [incident("i-1")]},
    )
    assert submitted.status_code == 202, submitted.text
    assert "i-1" in forge_installed.state("acme")["incidents"]
    assert forge_installed.counters()["sites"]["acme"]["requests_by_auth"] == {"forge": 2}


@pytest.mark.parametrize("kind", ["unknown", "expired", "connect_jwt"])
def test_anything_but_a_live_system_token_is_401(forge_installed: Simulator, kind: str) -> None:
    forge_installed.forge.accepts_system_tokens = True
    site = forge_installed.site("acme")
    token = _issued(forge_installed)
    if kind == "unknown":
        token = token[:-3] + "abc"
    elif kind == "expired":
        with forge_installed.world.lock:
            site.system_tokens[token] = time.time() - 1
    if kind == "connect_jwt":
        answer = requests.get(
            f"{forge_installed.url}/ex/jira/{site.cloud_id}{LINKED}",
            headers={"Authorization": "JWT x.y.z"},
            timeout=5,
        )
    else:
        answer = _api(forge_installed, token)
    assert answer.status_code == 401


def test_uninstalling_ends_the_forge_installation_and_its_tokens(
    forge_installed: Simulator,
) -> None:
    forge_installed.forge.accepts_system_tokens = True
    token = _issued(forge_installed)
    forge_installed.uninstall("acme")
    site = forge_installed.site("acme")
    assert site.forge_installation_id is None
    assert site.system_tokens == {}
    assert _api(forge_installed, token).status_code == 401
