"""The simulator's points quota and burst limit, as Jira's 2026 rate limits behave."""

from __future__ import annotations

import requests

from jira_simulator import Simulator
from jira_simulator.quota import Limits
from jira_simulator.quota import QuotaError
from jira_simulator.quota import Quotas
from tests.jira_simulator.helpers import AppSigner


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_every_request_spends_a_point_and_the_headers_say_what_is_left() -> None:
    clock = _Clock()
    quotas = Quotas(Limits(points=3, window=60, burst=100), clock=clock)
    assert quotas.charge("acme") is None
    headers = quotas.headers("acme")
    assert headers["Beta-RateLimit-Policy"] == '"tenant-app-quota";q=3;w=60'
    assert headers["Beta-RateLimit"] == '"tenant-app-quota";r=2;t=60'
    assert quotas.charge("acme") is None
    assert quotas.charge("acme") is None
    clock.now += 15
    refusal = quotas.charge("acme")
    assert refusal is not None
    assert (refusal.retry_after, refusal.reason) == (45, "jira-quota-tenant-based")
    assert quotas.charge("globex") is None  # per site
    clock.now += 45
    assert quotas.charge("acme") is None  # a new window
    assert quotas.snapshot()["sites"]["acme"] == {
        "points": 3,
        "window": 60,
        "burst": 100,
        "spent": 1,
        "remaining": 2,
        "refused": 1,
        "resetsIn": 60,
    }


def test_the_burst_limit_refuses_for_a_second() -> None:
    clock = _Clock()
    quotas = Quotas(Limits(points=100, window=3600, burst=2), clock=clock)
    assert quotas.charge("acme") is None
    assert quotas.charge("acme") is None
    refusal = quotas.charge("acme")
    assert refusal is not None
    assert (refusal.retry_after, refusal.reason) == (1, "jira-burst-based")
    assert quotas.headers("acme")["X-RateLimit-Remaining"] == "0"
    clock.now += 1
    assert quotas.charge("acme") is None


def test_bad_settings_are_refused() -> None:
    quotas = Quotas()
    for body in (
        [],
        {"points": 0},
        {"points": True},
        {"window": "60"},
        {"burst": 10**12},
        {"site": 5},
        {"points": 10, "extra": 1},
    ):
        try:
            quotas.configure_json(body)
        except QuotaError:
            continue
        raise AssertionError(f"accepted {body!r}")


def test_the_control_api_sets_the_quota_and_the_site_enforces_it(
    installed: Simulator, app_client: AppSigner
) -> None:
    base = installed.url
    bad = requests.put(f"{base}/_sim/quota", json={"points": -1}, timeout=5)
    assert bad.status_code == 400
    assert "points" in bad.json()[0]["message"]
    ok = requests.put(f"{base}/_sim/quota", json={"site": "acme", "points": 2}, timeout=5)
    assert ok.status_code == 200
    assert ok.json()["sites"]["acme"]["points"] == 2

    first = app_client.get("/rest/operations/1.0/incidents/nope")
    assert first.status_code == 404
    assert first.headers["Beta-RateLimit"].startswith('"tenant-app-quota";r=1;')
    assert app_client.get("/rest/operations/1.0/incidents/nope").status_code == 404
    refused = app_client.get("/rest/operations/1.0/incidents/nope")
    assert refused.status_code == 429
    assert refused.headers["RateLimit-Reason"] == "jira-quota-tenant-based"
    assert int(refused.headers["Retry-After"]) > 0
    assert refused.headers["Beta-RateLimit"].startswith('"tenant-app-quota";r=0;')

    assert requests.delete(f"{base}/_sim/quota", timeout=5).status_code == 204
    assert app_client.get("/rest/operations/1.0/incidents/nope").status_code == 404
