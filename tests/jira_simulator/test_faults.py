"""Faults on demand: rate limits, outages, slow answers, dropped connections, size limits."""

from __future__ import annotations

import time

import pytest
import requests

from jira_simulator import FaultError
from jira_simulator import Simulator
from tests.jira_simulator.helpers import AppSigner
from tests.jira_simulator.helpers import component
from tests.jira_simulator.helpers import incident
from tests.jira_simulator.test_auth import assert_jira_error

BULK = "/rest/operations/1.0/bulk"
BODY = {"incidents": [incident()]}


def test_429_carries_retry_after_and_early_retries_are_violations(
    app_client: AppSigner, installed: Simulator
) -> None:
    installed.faults.add("429", retry_after=30, times=1)

    limited = app_client.post(BULK, BODY)
    early = app_client.post(BULK, BODY)

    assert_jira_error(limited, 429)
    assert limited.headers["Retry-After"] == "30"
    assert limited.headers["X-RateLimit-Reset"].endswith("+00:00")
    assert limited.headers["RateLimit-Reason"] == "jira-burst-based"
    # Only counted by default: the early request is still served.
    assert early.status_code == 202
    counters = installed.counters()
    assert counters["retry_after_violations"] == 1
    assert counters["sites"]["acme"]["retry_after_violations"] == 1
    assert counters["faults_injected"] == {"429": 1}


def test_waiting_out_retry_after_is_no_violation(
    app_client: AppSigner, installed: Simulator
) -> None:
    installed.faults.add("503", retry_after=1, times=1)

    first = app_client.post(BULK, BODY)
    time.sleep(1.05)
    second = app_client.post(BULK, BODY)

    assert_jira_error(first, 503)
    assert first.headers["Retry-After"] == "1"
    assert second.status_code == 202
    assert installed.counters()["retry_after_violations"] == 0


def test_retry_after_is_tracked_per_site(installed: Simulator, recording_url: str) -> None:
    installed.install("globex", f"{recording_url}/atlassian-connect.json")
    installed.faults.add("429", site="acme", retry_after=30)

    assert AppSigner(installed, "acme").post(BULK, BODY).status_code == 429
    assert AppSigner(installed, "globex").post(BULK, BODY).status_code == 202
    assert installed.counters()["retry_after_violations"] == 0


def test_strict_mode_answers_early_retries_with_429(
    app_client: AppSigner, installed: Simulator
) -> None:
    installed.strict_retry_after = True
    installed.faults.add("429", retry_after=30, times=1)

    app_client.post(BULK, BODY)
    early = app_client.post(BULK, BODY)

    assert_jira_error(early, 429)
    assert int(early.headers["Retry-After"]) > 0
    assert installed.state("acme")["incidents"] == {}


@pytest.mark.parametrize(("kind", "status"), [("429", 429), ("503", 503), ("500", 500)])
def test_error_faults_without_retry_after(
    app_client: AppSigner, installed: Simulator, kind: str, status: int
) -> None:
    installed.faults.add(kind)

    response = app_client.post(BULK, BODY)

    assert_jira_error(response, status)
    assert "Retry-After" not in response.headers
    assert installed.state("acme")["incidents"] == {}
    assert installed.counters()["requests"]["POST /rest/operations/1.0/bulk"] == {str(status): 1}


def test_dropped_connection_raises_on_the_client(
    app_client: AppSigner, installed: Simulator
) -> None:
    installed.faults.add("drop", times=1)

    with pytest.raises(requests.ConnectionError):
        app_client.post(BULK, BODY)
    after = app_client.post(BULK, BODY)

    assert after.status_code == 202
    assert installed.counters()["faults_injected"] == {"drop": 1}


def test_slow_answer_is_delayed_then_served(app_client: AppSigner, installed: Simulator) -> None:
    installed.faults.add("delay", delay=0.5, times=1)

    with pytest.raises(requests.Timeout):
        app_client.http.post(
            app_client.url(BULK),
            json=BODY,
            headers={"Authorization": f"JWT {app_client.token('POST', BULK)}"},
            timeout=0.1,
        )
    assert installed.counters()["faults_injected"] == {"delay": 1}


def test_413_fault_fires_only_above_the_threshold(
    app_client: AppSigner, installed: Simulator
) -> None:
    installed.faults.add("413", above=2)
    three = [component(f"svc-{i}") for i in range(3)]

    assert_jira_error(
        app_client.post("/rest/devopscomponents/1.0/bulk", {"devopsComponents": three}), 413
    )
    ok = app_client.post("/rest/devopscomponents/1.0/bulk", {"devopsComponents": three[:2]})
    assert ok.status_code == 202


def test_faults_match_by_site_method_and_path(app_client: AppSigner, installed: Simulator) -> None:
    installed.faults.add("500", site="globex")
    installed.faults.add("500", method="GET")
    installed.faults.add("500", path="/rest/devopscomponents/")

    assert app_client.post(BULK, BODY).status_code == 202
    assert app_client.get("/rest/operations/1.0/incidents/inc-1").status_code == 500
    assert (
        app_client.post(
            "/rest/devopscomponents/1.0/bulk", {"devopsComponents": [component()]}
        ).status_code
        == 500
    )


def test_fraction_is_deterministic_for_a_seed(app_client: AppSigner, installed: Simulator) -> None:
    def run() -> list[int]:
        installed.faults.clear()
        installed.faults.reseed(7)
        installed.faults.add("500", fraction=0.5)
        return [
            app_client.get("/rest/operations/1.0/linkedWorkspaces").status_code for _ in range(20)
        ]

    first, second = run(), run()

    assert first == second
    assert 0 < first.count(500) < 20


def test_clear_removes_faults(app_client: AppSigner, installed: Simulator) -> None:
    installed.faults.add("500")
    installed.faults.clear()

    assert app_client.post(BULK, BODY).status_code == 202


def test_faults_over_http(app_client: AppSigner, installed: Simulator) -> None:
    added = requests.post(
        f"{installed.url}/_sim/faults",
        json={"kind": "429", "retryAfter": 5, "site": "acme", "times": 1},
        timeout=5,
    )
    listed = requests.get(f"{installed.url}/_sim/faults", timeout=5).json()

    assert added.status_code == 201
    assert listed["faults"][0]["retryAfter"] == 5
    assert app_client.post(BULK, BODY).headers["Retry-After"] == "5"
    requests.post(f"{installed.url}/_sim/faults", json={"kind": "500"}, timeout=5)
    assert requests.delete(f"{installed.url}/_sim/faults", timeout=5).status_code == 204
    assert installed.faults.list() == []


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {},
        {"kind": "418"},
        {"kind": "429", "fraction": 0},
        {"kind": "429", "fraction": "half"},
        {"kind": "500", "retryAfter": 5},
        {"kind": "delay", "delay": -1},
        {"kind": "429", "times": 0},
        {"kind": "429", "colour": "red"},
        {"kind": "429", "retryAfter": True},
    ],
)
def test_malformed_faults_are_400(sim: Simulator, body: object) -> None:
    response = requests.post(f"{sim.url}/_sim/faults", json=body, timeout=5)

    assert response.status_code == 400
    assert response.json()[0]["message"]
    assert sim.faults.list() == []


def test_python_fault_validation(sim: Simulator) -> None:
    with pytest.raises(FaultError):
        sim.faults.add("404")
