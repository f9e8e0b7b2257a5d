"""Every call the app makes is verified like Jira does; anything else is rejected and counted."""

from __future__ import annotations

import time

import pytest
import requests

from jira_simulator import Simulator
from provider.connect.jwt import sign_hs256
from tests.jira_simulator.helpers import AppSigner
from tests.jira_simulator.helpers import RecordingApp
from tests.jira_simulator.helpers import ServerThread
from tests.jira_simulator.helpers import incident

BULK = "/rest/operations/1.0/bulk"
BODY = {"incidents": [incident()]}


def assert_jira_error(response: requests.Response, status: int) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body, list)
    assert body
    assert isinstance(body[0]["message"], str)
    assert body[0]["errorTraceId"]


def test_request_signed_like_the_app_is_accepted(app_client: AppSigner) -> None:
    response = app_client.post(BULK, BODY)

    assert response.status_code == 202
    assert response.json()["acceptedIncidents"] == ["inc-1"]


def test_query_parameters_are_part_of_the_signed_request(app_client: AppSigner) -> None:
    response = app_client.delete(
        "/rest/operations/1.0/bulkByProperties", query="workspaceId=ws%201&team=a%2Cb"
    )

    assert response.status_code == 202


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("unsigned", "missing_token"),
        ("wrong_secret", "invalid_signature"),
        ("wrong_iss", "unknown_issuer"),
        ("client_key_as_iss", "unknown_issuer"),
        ("wrong_qsh", "invalid_qsh"),
        ("qsh_of_other_method", "invalid_qsh"),
        ("qsh_without_base_path_stripping", "invalid_qsh"),
        ("context_qsh", "invalid_qsh"),
        ("expired", "token_expired"),
        ("issued_in_future", "token_not_yet_valid"),
        ("lifetime_too_long", "lifetime_too_long"),
        ("hs512", "invalid_algorithm"),
        ("garbage", "invalid_token"),
    ],
)
def test_bad_tokens_are_401_and_counted(
    app_client: AppSigner, installed: Simulator, case: str, reason: str
) -> None:
    now = int(time.time())
    url = app_client.url(BULK)
    token = {
        "unsigned": "",
        "wrong_secret": app_client.token(
            "POST", BULK, secret="not-the-secret-but-long-enough-for-hs256-keys"
        ),
        "wrong_iss": app_client.token("POST", BULK, iss="some-other-app"),
        "client_key_as_iss": app_client.token("POST", BULK, iss=installed.site("acme").client_key),
        "wrong_qsh": app_client.token("POST", BULK, qsh="0" * 64),
        "qsh_of_other_method": app_client.token("GET", BULK),
        "qsh_without_base_path_stripping": sign_hs256(
            iss="ops-provider-test", secret=app_client.secret, method="POST", url=url
        ),
        "context_qsh": app_client.token("POST", BULK, qsh="context-qsh"),
        "expired": app_client.token("POST", BULK, now=now - 600, lifetime=180),
        "issued_in_future": app_client.token("POST", BULK, now=now + 600, lifetime=180),
        "lifetime_too_long": app_client.token("POST", BULK, lifetime=7200),
        "hs512": _hs512(app_client),
        "garbage": "not.a.jwt",
    }[case]

    response = app_client.post(BULK, BODY, token=token)

    assert_jira_error(response, 401)
    counters = installed.counters()
    assert counters["rejected_auth"] == 1
    assert counters["rejected_auth_by_reason"] == {reason: 1}
    assert counters["sites"]["acme"]["rejected_auth"] == 1
    assert installed.state("acme")["incidents"] == {}


def _hs512(app_client: AppSigner) -> str:
    import jwt

    now = int(time.time())
    claims = {"iss": "ops-provider-test", "iat": now, "exp": now + 180, "qsh": "x"}
    return jwt.encode(claims, app_client.secret, algorithm="HS512")


def test_token_for_one_site_is_rejected_by_another(
    installed: Simulator, recording_url: str
) -> None:
    installed.install("globex", f"{recording_url}/atlassian-connect.json")
    acme, globex = AppSigner(installed, "acme"), AppSigner(installed, "globex")
    # Signed with acme's secret and qsh, sent to globex.
    token = acme.token("POST", BULK)

    response = globex.post(BULK, BODY, token=token)

    assert_jira_error(response, 401)
    assert installed.state("globex")["incidents"] == {}


def test_site_without_installation_rejects_everything(sim: Simulator) -> None:
    response = requests.post(
        f"{sim.url}/sites/globex{BULK}", json=BODY, headers={"Authorization": "JWT x"}, timeout=5
    )

    assert_jira_error(response, 401)
    assert sim.counters()["rejected_auth_by_reason"] == {"not_installed": 1}


def test_uninstalled_app_is_rejected(app_client: AppSigner, installed: Simulator) -> None:
    token = app_client.token("POST", BULK)
    installed.uninstall("acme")

    assert_jira_error(app_client.post(BULK, BODY, token=token), 401)


def test_disabled_app_is_forbidden(app_client: AppSigner, installed: Simulator) -> None:
    installed.disable("acme")

    assert_jira_error(app_client.post(BULK, BODY), 403)


def test_missing_scope_is_403(sim: Simulator) -> None:
    recording = RecordingApp(scopes=["READ"])
    with ServerThread(recording.wsgi()) as server:
        sim.install("acme", f"{server.url}/atlassian-connect.json")
        client = AppSigner(sim, "acme")

        write = client.post(BULK, BODY)
        delete = client.delete("/rest/operations/1.0/incidents/inc-1")
        read = client.get("/rest/operations/1.0/linkedWorkspaces")

    assert_jira_error(write, 403)
    assert_jira_error(delete, 403)
    assert read.status_code == 200
    assert sim.counters()["rejected_auth_by_reason"] == {"missing_scope": 2}


def test_delete_scope_implies_write_and_read(sim: Simulator) -> None:
    recording = RecordingApp(scopes=["DELETE"])
    with ServerThread(recording.wsgi()) as server:
        sim.install("acme", f"{server.url}/atlassian-connect.json")
        client = AppSigner(sim, "acme")

        assert client.post(BULK, BODY).status_code == 202
        assert client.get("/rest/operations/1.0/incidents/inc-1").status_code == 200


def test_missing_module_is_403(sim: Simulator) -> None:
    recording = RecordingApp(modules=False)
    with ServerThread(recording.wsgi()) as server:
        sim.install("acme", f"{server.url}/atlassian-connect.json")
        client = AppSigner(sim, "acme")

        response = client.post(BULK, BODY)

    assert_jira_error(response, 403)
    assert sim.counters()["rejected_auth_by_reason"] == {"missing_module": 1}


def test_unknown_site_and_unknown_path_are_404(app_client: AppSigner, sim: Simulator) -> None:
    other = requests.get(f"{sim.url}/sites/nowhere/rest/operations/1.0/bulk", timeout=5)
    unknown = app_client.get("/rest/operations/1.0/nothing-here")
    wrong_method = app_client.request("PUT", BULK, json=BODY)

    assert_jira_error(other, 404)
    assert_jira_error(unknown, 404)
    assert_jira_error(wrong_method, 405)
