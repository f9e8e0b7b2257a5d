"""What an incident's timeline records as its alerts come and go (the /v1 API, the worker's
processing and the incidents listener, in the app's test client)."""

from __future__ import annotations

from sqlalchemy import select

from provider.ops.incidents.models import EventKind
from provider.ops.incidents.models import Incident
from provider.ops.incidents.models import IncidentEvent
from tests.ops.conftest import Api


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


def test_an_incident_resolved_by_its_alerts_says_why(api: Api) -> None:
    api.create_alert(message="Queue stuck", alias="q", priority="P1")
    api.post("/v1/alerts/q/close?identifierType=alias")
    api.process()
    kind, text, _ = _timeline(api)[-1]
    assert (kind, text) == (EventKind.RESOLVED, "Incident resolved: its last alert closed")
