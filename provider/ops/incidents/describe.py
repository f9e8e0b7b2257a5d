"""What an incident says about itself: the description Jira shows, written from its alerts."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.jira.schemas import MAX_DESCRIPTION
from provider.jira.schemas import clip
from provider.ops.alerts.service import AlertStatus
from provider.ops.incidents import alert_source
from provider.ops.incidents.models import EventKind
from provider.ops.incidents.models import Incident
from provider.ops.incidents.models import IncidentAlert
from provider.ops.incidents.models import IncidentEvent
from provider.times import iso


def alert_ids_of(session: Session, incident: Incident) -> list[int]:
    return list(
        session.scalars(
            select(IncidentAlert.alert_id)
            .where(IncidentAlert.incident_id == incident.id)
            .order_by(IncidentAlert.added_at, IncidentAlert.alert_id)
        )
    )


# What responders said and did, shown in Jira too: Jira's incident has no timeline of its own.
RESPONDER_KINDS = (EventKind.ACKNOWLEDGED, EventKind.NOTE)
RESPONDER_LINES = 10
#: The alerts a generated description lists, oldest first.
ALERT_LINES = 50


def responder_lines(session: Session, incident: Incident) -> list[str]:
    rows = session.scalars(
        select(IncidentEvent)
        .where(IncidentEvent.incident_id == incident.id, IncidentEvent.kind.in_(RESPONDER_KINDS))
        .order_by(IncidentEvent.id.desc())
        .limit(RESPONDER_LINES)
    )
    return [f"- {iso(e.at)} {e.text}" for e in reversed(list(rows))]


def description_of(session: Session, incident: Incident) -> str:
    """The incident's description (the person's, or one generated from its alerts), followed by
    the latest acknowledgements and notes of its responders."""
    base = incident.description or _generated(session, incident)
    said = responder_lines(session, incident)
    if not said:
        return base
    return clip("\n".join([base, "", "**From the responders:**", *said]), MAX_DESCRIPTION)


def _generated(session: Session, incident: Incident) -> str:
    seen = alert_source.overview(session, alert_ids_of(session, incident), oldest=ALERT_LINES)
    lines = [f"**Severity:** {incident.severity or 'unknown'}"]
    if incident.rule_name:
        lines.append(f"**Opened by rule:** {incident.rule_name}")
    if seen.alerts:
        lines.append(f"**First seen:** {iso(seen.first_seen)}")
        lines.append(f"**Alerts:** {seen.alerts} ({seen.occurrences} occurrences)")
        lines.append("")
        for created_at, priority, message, status, count in seen.oldest:
            state = "open" if status is AlertStatus.OPEN else "closed"
            lines.append(
                f"- {iso(created_at)} [{priority}] {message} ({state}, seen {count or 1} times)"
            )
    return clip("\n".join(lines), MAX_DESCRIPTION)
