"""Every request JSM's reference prints, sent literally: only the host and credentials change.

The curl commands are read from the reference pages themselves (``tests/data/seeds``), so the
paths keep JSM's ``/jsm/ops/api/{cloudId}/v1`` prefix and the bodies are byte for byte the
printed ones. Path placeholders are filled with real ids, ``<api_token>`` with the workspace key.
"""

from __future__ import annotations

import base64
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.ops.conftest import Api

SEEDS = Path(__file__).resolve().parent.parent / "data" / "seeds"
HOST = "https://api.atlassian.com"
CLOUD_ID = "0f6a1d9e-5b1c-4c47-9a43-3e4d2f0c7a11"


@dataclass(frozen=True)
class Printed:
    method: str
    url: str
    user: str
    headers: dict[str, str]
    data: str | None


def printed_requests(name: str) -> list[Printed]:
    """The curl commands of a reference page, in the order it prints them."""
    found = []
    for line in (SEEDS / name).read_text().splitlines():
        start = line.find("curl --request")
        if start < 0:
            continue
        tokens = shlex.split(line[start:].replace(" \\ ", " "))
        options: dict[str, list[str]] = {}
        for flag, value in zip(tokens[1::2], tokens[2::2], strict=False):
            options.setdefault(flag, []).append(value)
        headers = dict(h.split(": ", 1) for h in options.get("--header", []))
        found.append(
            Printed(
                method=options["--request"][0],
                url=options["--url"][0],
                user=options["--user"][0],
                headers=headers,
                data=options.get("--data", [None])[0],
            )
        )
    return found


def send(api: Api, printed: Printed, **ids: str) -> Any:
    """Send ``printed`` to the app with its placeholders filled from ``ids``."""
    assert printed.url.startswith(HOST)
    path = printed.url.removeprefix(HOST).replace("{cloudId}", CLOUD_ID)
    path = re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], path)
    user = printed.user.replace("<api_token>", api.key)
    headers = {
        **printed.headers,
        "Authorization": "Basic " + base64.b64encode(user.encode()).decode(),
    }
    data = printed.data
    if data is not None and "successorId" in ids:
        data = data.replace('"<string>"', f'"{ids["successorId"]}"')
    return api.client.open(path, method=printed.method, headers=headers, data=data)


def by_path(requests: list[Printed], method: str, suffix: str) -> Printed:
    matches = [r for r in requests if r.method == method and r.url.endswith(suffix)]
    assert len(matches) == 1, (method, suffix, matches)
    return matches[0]


ALERTS = printed_requests("jsm-ops-alerts-api.txt")
ACTIONS = printed_requests("jsm-ops-integration-actions.txt")


def test_the_pages_print_what_the_test_sends() -> None:
    assert len(ALERTS) == 13
    assert len(ACTIONS) == 6
    assert all("/jsm/ops/api/{cloudId}/v1/" in r.url for r in ALERTS + ACTIONS)


def test_every_printed_alert_request_works(api: Api) -> None:
    create = by_path(ALERTS, "POST", "/v1/alerts")
    created = send(api, create)
    assert created.status_code == 202, created.get_json()
    api.process()
    status = send(
        api, by_path(ALERTS, "GET", "/alerts/requests/{id}"), id=created.get_json()["requestId"]
    )
    assert status.status_code == 200, status.get_json()
    alert_id = status.get_json()["alertId"]

    listed = send(api, by_path(ALERTS, "GET", "/v1/alerts"))
    assert listed.status_code == 200
    assert [a["id"] for a in listed.get_json()["values"]] == [alert_id]
    got = send(api, by_path(ALERTS, "GET", "/alerts/{id}"), id=alert_id)
    assert got.status_code == 200
    assert got.get_json()["alias"] == "DatabaseConnectionFailure_DatabaseServer1"

    writes = [
        r
        for r in ALERTS
        if r is not create and not (r.method == "GET" or r.url.endswith("/alerts/{id}"))
    ]
    for printed in writes:
        response = send(api, printed, id=alert_id)
        assert response.status_code == 202, (printed.url, response.get_json())
        api.process()
        outcome = api.get(f"/v1/alerts/requests/{response.get_json()['requestId']}").get_json()
        assert outcome["isSuccess"], (printed.url, outcome)

    deleted = send(api, by_path(ALERTS, "DELETE", "/alerts/{id}"), id=alert_id)
    assert deleted.status_code == 202
    api.process()
    assert api.get(f"/v1/alerts/{alert_id}").status_code == 404


def test_every_printed_integration_action_request_works(api: Api) -> None:
    integration = api.post("/v1/integrations", json={"name": "Monitoring"}).get_json()
    ids = {"integrationId": integration["id"]}
    listed = send(api, by_path(ACTIONS, "GET", "/actions"), **ids)
    assert listed.status_code == 200
    existing = listed.get_json()["values"][0]["id"]

    created = send(api, by_path(ACTIONS, "POST", "/actions"), **ids)
    assert created.status_code in (200, 201), created.get_json()
    action_id = created.get_json()["id"]
    for method, suffix, status in (
        ("GET", "/actions/{id}", 200),
        ("PATCH", "/actions/{id}", 200),
        ("PATCH", "/actions/{id}/order", 200),
        ("DELETE", "/actions/{id}", 200),
    ):
        response = send(
            api, by_path(ACTIONS, method, suffix), **ids, id=action_id, successorId=existing
        )
        assert response.status_code == status, (method, suffix, response.get_data(as_text=True))


@pytest.mark.parametrize("cloud_id", ["any-site", "00000000-0000-0000-0000-000000000000"])
def test_the_key_not_the_cloud_id_decides_the_workspace(
    api: Api, other_api: Api, cloud_id: str
) -> None:
    api.create_alert(message="mine")
    other_api.create_alert(message="theirs")

    mine = api.get(f"/jsm/ops/api/{cloud_id}/v1/alerts").get_json()["values"]
    theirs = other_api.get(f"/jsm/ops/api/{cloud_id}/v1/alerts").get_json()["values"]

    assert [a["message"] for a in mine] == ["mine"]
    assert [a["message"] for a in theirs] == ["theirs"]


def test_links_keep_the_prefix_the_caller_used(api: Api) -> None:
    for n in range(3):
        api.create_alert(message=f"alert {n}")

    page = api.get(f"/jsm/ops/api/{CLOUD_ID}/v1/alerts?size=2").get_json()

    assert page["links"]["next"] == f"/jsm/ops/api/{CLOUD_ID}/v1/alerts?offset=2&size=2"
    assert len(api.get(page["links"]["next"]).get_json()["values"]) == 1


def test_integration_events_are_reached_under_the_prefix(api: Api) -> None:
    integration = api.post("/v1/integrations", json={"name": "Webhook"}).get_json()
    response = api.client.post(
        f"/jsm/ops/api/{CLOUD_ID}/v1/integrations/{integration['id']}/events",
        json={"message": "disk full"},
        headers={"Authorization": f"GenieKey {integration['apiKey']}"},
    )
    assert response.status_code == 202, response.get_json()
