"""What an incident's timeline records as its alerts come and go (the /v1 API, the worker's
processing and the incidents listener, in the app's test client)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.orm import Session

from provider.ops.incidents import batch
from provider.ops.incidents.models import EventKind
from provider.ops.incidents.models import Incident
from provider.ops.incidents.models import IncidentEvent
from tests.ops.conftest import Api
from tests.plans import explain


def _timeline(api: Api) -> list[tuple[EventKind, str, dict[str, object]]]:
    with api.session_factory() as session:
        (incident,) = session.scalars(
            select(Incident).where(Incident.workspace_id == api.workspace.id)
        ).all()
        rows = session.scalars(
            select(IncidentEvent)
            .where(IncidentEvent.incident_id == incident.id)
            .order_by(IncidentEvent.id)
        )
        return [(r.kind, r.text, dict(r.detail)) for r in rows]


def test_an_alert_storm_leaves_one_line_per_alert(api: Api) -> None:
    api.create_alert(message="Disk full", alias="disk", priority="P2", tags=["jira:OPS-3"])
    for _ in range(4):
        api.create_alert(message="Disk full", alias="disk", priority="P2")
    api.create_alert(message="Checkout down", alias="co", priority="P1")
    api.create_alert(message="Checkout down", alias="co", priority="P1")
    api.post("/v1/alerts/co/acknowledge?identifierType=alias")
    api.process()
    api.post("/v1/alerts/disk/close?identifierType=alias")
    api.process()
    entries = [(kind, text) for kind, text, _ in _timeline(api)]
    assert entries == [
        (EventKind.OPENED, "Incident opened by alert “Disk full” (P2)"),
        (EventKind.ALERT_REPEATED, "Alert “Disk full” (P2) fired again (5 times in all)"),
        (EventKind.ALERT_ADDED, "Alert “Checkout down” (P1) joined"),
        (
            EventKind.SEVERITY,
            "Severity changed from P2 to P1: raised by alert “Checkout down”",
        ),
        (EventKind.ALERT_REPEATED, "Alert “Checkout down” (P1) fired again (2 times in all)"),
        (EventKind.ALERT_CLOSED, "Alert “Disk full” (P2) closed"),
    ]
    # The acknowledgement of an alert is no news for the incident's timeline.
    assert all(kind is not EventKind.ACKNOWLEDGED for kind, _ in entries)


def test_alerts_repeating_in_turn_keep_one_line_each(api: Api) -> None:
    api.create_alert(message="Disk full", alias="disk", priority="P1")
    api.create_alert(message="Queue stuck", alias="queue", priority="P1")
    for _ in range(3):  # a storm: the two alerts fire in turn
        api.create_alert(message="Disk full", alias="disk", priority="P1")
        api.create_alert(message="Queue stuck", alias="queue", priority="P1")
    api.process()
    api.post("/v1/alerts/queue/close?identifierType=alias")
    api.create_alert(message="Disk full", alias="disk", priority="P1")
    api.process()
    entries = [(kind, text) for kind, text, _ in _timeline(api)]
    assert entries == [
        (EventKind.OPENED, "Incident opened by alert “Disk full” (P1)"),
        (EventKind.ALERT_ADDED, "Alert “Queue stuck” (P1) joined"),
        (EventKind.ALERT_REPEATED, "Alert “Disk full” (P1) fired again (4 times in all)"),
        (EventKind.ALERT_REPEATED, "Alert “Queue stuck” (P1) fired again (4 times in all)"),
        (EventKind.ALERT_CLOSED, "Alert “Queue stuck” (P1) closed"),
        # news came after its line: firing again is news again, on a line of its own
        (EventKind.ALERT_REPEATED, "Alert “Disk full” (P1) fired again (5 times in all)"),
    ]


STORM = [
    ("post", {"message": "Disk full", "alias": "disk", "priority": "P2"}),
    ("post", {"message": "Disk full", "alias": "disk", "priority": "P2"}),
    ("post", {"message": "Queue stuck", "alias": "queue", "priority": "P2"}),
    ("post", {"message": "Disk full", "alias": "disk", "priority": "P2"}),
    ("post", {"message": "Queue stuck", "alias": "queue", "priority": "P2"}),
    ("post", {"message": "Checkout down", "alias": "co", "priority": "P1"}),
    ("post", {"message": "Disk full", "alias": "disk", "priority": "P2"}),
    ("post", {"message": "Disk full", "alias": "disk", "priority": "P2"}),
    ("close", "queue"),
    ("post", {"message": "Checkout down", "alias": "co", "priority": "P1"}),
    ("post", {"message": "Disk full", "alias": "disk", "priority": "P2"}),
    ("close", "disk"),
    ("close", "co"),
]


def _send(api: Api, step: tuple[str, object]) -> None:
    verb, what = step
    if verb == "post":
        response = api.post("/v1/alerts", json=what)
    else:
        response = api.post(f"/v1/alerts/{what}/close?identifierType=alias")
    assert response.status_code == 202, response.get_json()


def test_a_batch_records_the_timeline_that_one_request_at_a_time_does(
    api: Api, other_api: Api
) -> None:
    """Alerts joining, repeating in turn, raising the severity, closing and resolving the
    incident: one batch leaves the same entries as each request processed on its own."""
    for step in STORM:
        _send(other_api, step)
        other_api.process()
    for step in STORM:
        _send(api, step)
    assert api.process() == len(STORM)  # one batch
    one_at_a_time = _timeline(other_api)
    assert [kind for kind, _, _ in one_at_a_time][-1] is EventKind.RESOLVED
    assert _timeline(api) == one_at_a_time


def test_an_incident_resolved_by_its_alerts_says_why(api: Api) -> None:
    api.create_alert(message="Queue stuck", alias="q", priority="P1")
    api.post("/v1/alerts/q/close?identifierType=alias")
    api.process()
    kind, text, _ = _timeline(api)[-1]
    assert (kind, text) == (EventKind.RESOLVED, "Incident resolved: its last alert closed")


def test_an_alert_firing_again_reads_index_ranges_not_the_incident(session: Session) -> None:
    # Run for every alert change of an incident: a walk of the incident's entries would cost as
    # many rows as the incident has alerts.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL enable_seqscan = off"))
    last = explain(session, batch._ALERTS_LAST_ENTRY, {"alert_id": 1, "incident_id": 2})
    news = explain(session, batch._NEWS_SINCE, {"incident_id": 2, "after": 5})
    assert "ix_incident_events_alert" in last, last
    assert "ix_incident_events_news" in news, news
    for plan in (last, news):
        assert "Sort" not in plan, plan
        assert "TEMP B-TREE" not in plan, plan
