"""What the simulator shows: the HTML page, state and counters as JSON, and in Python."""

from __future__ import annotations

import requests

from jira_simulator import Simulator
from tests.jira_simulator.helpers import AppSigner
from tests.jira_simulator.helpers import component
from tests.jira_simulator.helpers import incident
from tests.jira_simulator.helpers import review


def _feed(client: AppSigner) -> None:
    props = {"workspaceId": "ws-1"}
    client.post("/rest/operations/1.0/linkedWorkspaces/bulk", {"workspaceIds": ["ws-1"]})
    client.post(
        "/rest/devopscomponents/1.0/bulk",
        {"devopsComponents": [component(name="checkout <api>")], "properties": props},
    )
    client.post(
        "/rest/operations/1.0/bulk",
        {"incidents": [incident(severity={"level": "P2"})], "properties": props},
    )
    client.post("/rest/operations/1.0/bulk", {"reviews": [review()], "properties": props})


def test_html_page_shows_each_site(app_client: AppSigner, installed: Simulator) -> None:
    _feed(app_client)

    page = requests.get(f"{installed.url}/", timeout=5)

    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    html = page.text
    assert "Site <code>acme</code>" in html
    assert "Site <code>globex</code>" in html
    assert "enabled" in html
    assert "ws-1" in html
    assert "checkout &lt;api&gt;" in html  # escaped, never raw markup
    assert "Checkout API 5xx spike" in html
    assert "P2" in html
    assert "PIR - checkout" in html
    assert "in progress" in html
    assert "http://" not in html.split("<body>")[0]  # no external assets in the head


def test_state_json(app_client: AppSigner, installed: Simulator) -> None:
    _feed(app_client)

    everything = requests.get(f"{installed.url}/_sim/state", timeout=5).json()
    one = requests.get(f"{installed.url}/_sim/state/acme", timeout=5).json()

    assert everything["keysUrl"] == installed.keys_url
    assert everything["sites"]["acme"] == one
    assert one == installed.state("acme")
    assert one["state"] == "enabled"
    assert one["linkedWorkspaces"] == ["ws-1"]
    assert list(one["incidents"]) == ["inc-1"]
    assert list(one["reviews"]) == ["pir-1"]
    assert list(one["components"]) == ["svc-1"]
    assert one["usnHistory"]["incidents/inc-1"] == [1]
    assert [e["event"] for e in one["lifecycle"]] == ["installed", "enabled"]
    assert "sharedSecret" not in str(everything)
    assert installed.site("acme").shared_secret not in str(everything)
    assert requests.get(f"{installed.url}/_sim/state/nowhere", timeout=5).status_code == 404


def test_counters_json(app_client: AppSigner, installed: Simulator) -> None:
    _feed(app_client)
    app_client.post("/rest/operations/1.0/bulk", {"incidents": [incident()]}, token="nope")

    counters = requests.get(f"{installed.url}/_sim/counters", timeout=5).json()

    assert counters == installed.counters()
    assert counters["requests"]["POST /rest/operations/1.0/bulk"] == {"202": 2, "401": 1}
    assert counters["requests"]["POST /rest/devopscomponents/1.0/bulk"] == {"202": 1}
    assert counters["bulk_requests"] == {
        "linkedWorkspaces": 1,
        "devopsComponents": 1,
        "incidents": 1,
        "reviews": 1,
    }
    assert counters["entities"] == {
        "devopsComponents": {"accepted": 1},
        "incidents": {"accepted": 1},
        "reviews": {"accepted": 1},
    }
    assert counters["rejected_auth"] == 1
    assert counters["faults_injected"] == {}
    assert counters["retry_after_violations"] == 0
    assert set(counters["sites"]) == {"acme"}


def test_reset_forgets_data_but_keeps_installations(
    app_client: AppSigner, installed: Simulator
) -> None:
    _feed(app_client)
    installed.faults.add("500", site="globex")

    assert requests.post(f"{installed.url}/_sim/reset", timeout=5).status_code == 204

    state = installed.state("acme")
    assert state["incidents"] == {}
    assert state["state"] == "enabled"
    assert installed.counters()["requests"] == {}
    assert installed.faults.list() == []
    assert (
        app_client.post("/rest/operations/1.0/bulk", {"incidents": [incident()]}).status_code == 202
    )
