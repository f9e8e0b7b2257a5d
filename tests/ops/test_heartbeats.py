"""Heartbeats: definitions on ``/v1`` and ``/v2``, pings, and the alert a missed ping opens."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.db import make_engine
from provider.db import make_session_factory
from provider.ops.alerts.models import AlertAction
from provider.ops.alerts.models import AlertRequest
from provider.ops.heartbeats.expiry import expire_due
from provider.ops.heartbeats.schemas import HeartbeatCreate
from provider.ops.heartbeats.service import create_heartbeat
from provider.ops.incidents.models import Incident
from provider.ops.workspaces import linking
from provider.ops.workspaces.service import create_workspace
from provider.times import utcnow
from tests.ops.conftest import Api
from tests.ops.incident_factories import make_component
from tests.ops.incident_factories import make_installation

LATER = timedelta(hours=2)


def heartbeat(api: Api, name: str = "nightly-backup", **fields: Any) -> dict[str, Any]:
    body = {"name": name, "interval": 1, "intervalUnit": "hours", **fields}
    response = api.post("/v1/heartbeats", json=body)
    assert response.status_code == 201, response.get_json()
    return dict(response.get_json())


def expire(api: Api, after: timedelta = LATER) -> int:
    count = expire_due(api.session_factory, now=utcnow() + after)
    api.process()
    return count


def alerts(api: Api) -> list[dict[str, Any]]:
    return list(api.get("/v2/alerts?order=asc").get_json()["data"])


def test_create_list_get_update_and_delete_on_v1(api: Api) -> None:
    created = heartbeat(api, description="backups", alertTags=["db"], alertPriority="P2")
    assert created["state"] == "waiting"
    assert created["enabled"] is True
    assert created["expiresAt"] is not None
    assert [h["name"] for h in api.get("/v1/heartbeats").get_json()["values"]] == ["nightly-backup"]
    updated = api.patch("/v1/heartbeats/nightly-backup", json={"interval": 2}).get_json()
    assert (updated["interval"], updated["intervalUnit"]) == (2, "hours")
    disabled = api.post("/v1/heartbeats/nightly-backup/disable").get_json()
    assert (disabled["state"], disabled["expiresAt"]) == ("disabled", None)
    assert api.post("/v1/heartbeats/nightly-backup/enable").get_json()["state"] == "waiting"
    assert api.delete("/v1/heartbeats/nightly-backup").status_code == 204
    assert api.get("/v1/heartbeats/nightly-backup").status_code == 404


def test_opsgenies_heartbeat_api_and_envelopes(api: Api) -> None:
    body = {"name": "etl", "interval": 10, "intervalUnit": "minutes", "enabled": True,
            "ownerTeam": {"name": "ops"}, "alertMessage": "ETL stopped"}  # fmt: skip
    created = api.post("/v2/heartbeats", json=body)
    assert created.status_code == 201
    assert created.get_json()["data"]["alertMessage"] == "ETL stopped"
    assert set(created.get_json()) == {"data", "took", "requestId"}
    listed = api.get("/v2/heartbeats").get_json()["data"]["heartbeats"]
    assert [h["name"] for h in listed] == ["etl"]
    got = api.get("/v2/heartbeats/etl").get_json()["data"]
    assert (got["interval"], got["intervalUnit"], got["expired"]) == (10, "minutes", False)
    patched = api.patch("/v2/heartbeats/etl", json={"description": "nightly"}).get_json()
    assert patched["data"] == {"name": "etl", "enabled": True, "expired": False}
    assert api.post("/v2/heartbeats/etl/disable").get_json()["data"]["enabled"] is False
    assert api.post("/v2/heartbeats/etl/enable/").get_json()["data"]["enabled"] is True
    deleted = api.delete("/v2/heartbeats/etl").get_json()
    assert deleted["result"] == "Deleted"
    missing = api.get("/v2/heartbeats/etl")
    assert missing.status_code == 404
    assert set(missing.get_json()) == {"message", "took", "requestId"}


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "HEAD"])
def test_a_ping_takes_any_method_and_any_body(api: Api, method: str) -> None:
    heartbeat(api)
    for prefix in ("/v2/heartbeats", "/v1/heartbeats", "/jsm/ops/integration/v2/heartbeats"):
        response = api.call(method, f"{prefix}/nightly-backup/ping", data="not json {")
        assert response.status_code == 202
        if method != "HEAD":
            assert response.get_json()["result"] == "PONG - Heartbeat received"
    pinged = api.get("/v1/heartbeats/nightly-backup").get_json()
    assert pinged["state"] == "active"
    assert pinged["lastPingTime"] is not None


def test_an_expiry_opens_one_alert_and_the_next_ping_closes_it(api: Api) -> None:
    heartbeat(api, alertTags=["backup"], alertPriority="P2")

    assert expire(api) == 1
    assert expire(api, LATER * 2) == 0

    [alert] = alerts(api)
    assert alert["message"] == "nightly-backup is expired"
    assert (alert["priority"], alert["tags"], alert["status"]) == ("P2", ["backup"], "open")
    assert alert["alias"].startswith("heartbeat:")
    assert alert["integration"]["type"] == "Heartbeat"
    assert api.get("/v2/heartbeats/nightly-backup").get_json()["data"]["expired"] is True

    assert api.get("/v2/heartbeats/nightly-backup/ping").status_code == 202
    api.process()
    [closed] = alerts(api)
    assert closed["status"] == "closed"
    notes = api.get(f"/v2/alerts/{closed['id']}/notes").get_json()["data"]
    assert "received a ping" in notes[0]["note"]
    assert api.get("/v1/heartbeats/nightly-backup").get_json()["state"] == "active"

    # The next miss is a new expiry with an alert of its own.
    assert expire(api) == 1
    assert [a["status"] for a in alerts(api)] == ["closed", "open"]
    assert alerts(api)[1]["alias"] != closed["alias"]


def test_a_disabled_heartbeat_never_expires(api: Api) -> None:
    heartbeat(api, enabled=False)
    heartbeat(api, "switched-off")
    api.post("/v1/heartbeats/switched-off/disable")

    assert expire(api, timedelta(days=400)) == 0
    assert alerts(api) == []


def test_a_custom_message_and_a_ping_in_time_keep_it_quiet(api: Api) -> None:
    heartbeat(api, alertMessage="Backups stopped", interval=30, intervalUnit="minutes")
    assert expire(api, timedelta(minutes=20)) == 0
    assert expire(api, timedelta(minutes=31)) == 1
    assert [a["message"] for a in alerts(api)] == ["Backups stopped"]


def test_an_expiry_alert_follows_the_incident_rules(api: Api, session: Session) -> None:
    make_component(session, api.workspace, "backups")
    linking.link_workspace(session, make_installation(session), api_key=api.key)
    session.commit()
    heartbeat(api, alertPriority="P1", alertTags=["component:backups"])

    expire(api)

    session.expire_all()
    [incident] = session.scalars(select(Incident).where(Incident.workspace_id == api.workspace.id))
    assert (incident.summary, incident.severity) == ("nightly-backup is expired", "P1")


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"name": "x", "interval": 0, "intervalUnit": "minutes"}, 422, "interval"),
        ({"name": "x", "interval": 1, "intervalUnit": "weeks"}, 422, "intervalUnit"),
        ({"name": "a/b", "interval": 1, "intervalUnit": "hours"}, 422, "name"),
        ({"interval": 1, "intervalUnit": "hours"}, 422, "name"),
        ({"name": "x", "interval": "5", "intervalUnit": "hours"}, 422, "interval"),
    ],
)
def test_bad_definitions_get_opsgenies_error(
    api: Api, body: dict[str, Any], status: int, words: str
) -> None:
    response = api.post("/v2/heartbeats", json=body)
    assert response.status_code == status
    assert words in response.get_json()["message"]


def test_a_second_heartbeat_of_a_name_conflicts(api: Api) -> None:
    heartbeat(api)
    again = api.post("/v2/heartbeats", json={"name": "nightly-backup", "interval": 1,
                                             "intervalUnit": "hours"})  # fmt: skip
    assert again.status_code == 409
    assert "already exists" in again.get_json()["message"]
    assert api.patch("/v1/heartbeats/nightly-backup", json={}).status_code == 422
    assert api.get("/v2/heartbeats/nope/ping").status_code == 404


def test_heartbeats_are_the_workspaces_own(api: Api, other_api: Api) -> None:
    heartbeat(api)
    assert other_api.get("/v2/heartbeats/nightly-backup").status_code == 404
    assert other_api.get("/v2/heartbeats/nightly-backup/ping").status_code == 404
    heartbeat(other_api)  # the same name in another workspace is another heartbeat


def test_several_workers_open_exactly_one_alert_per_expiry(
    fresh_database_url: str, databases: Any
) -> None:
    """Two workers race over the same due heartbeats, on a database that commits for real."""
    engine = make_engine(fresh_database_url)
    factory = make_session_factory(engine)
    try:
        with factory.begin() as session:
            workspace, _key, _code = create_workspace(session, "Race")
        due = 30
        for n in range(due):
            with factory.begin() as session:
                create_heartbeat(
                    session,
                    workspace.id,
                    HeartbeatCreate(name=f"hb-{n}", interval=1, interval_unit="minutes"),
                )
        workers = 2
        start = threading.Barrier(workers)
        counts: list[int] = []

        def work() -> None:
            start.wait()
            moment = utcnow() + LATER
            total = 0
            while (claimed := expire_due(factory, now=moment, limit=3)) > 0:
                total += claimed
            counts.append(total)

        threads = [threading.Thread(target=work) for _ in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert sum(counts) == due
        if databases.backend == "postgresql":
            assert all(counts), counts  # both workers took part, neither took a row twice
        with factory() as session:
            creates = session.scalars(
                select(AlertRequest.alias).where(AlertRequest.action == AlertAction.CREATE)
            ).all()
        assert len(creates) == due
        assert len(set(creates)) == due
    finally:
        engine.dispose()
