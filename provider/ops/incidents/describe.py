"""What an incident says about itself: the description Jira shows, written from its alerts."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.jira.schemas import MAX_DESCRIPTION
from provider.jira.schemas import clip
from provider.ops.incidents import alert_source
from provider.ops.incidents.models import Incident
from provider.ops.incidents.models import IncidentAlert
from provider.times import iso


def alert_ids_of(session: Session, incident: Incident) -> list[int]:
    return list(
        session.scalars(
            select(IncidentAlert.alert_id)
            .where(IncidentAlert.incident_id == incident.id)
            .order_by(IncidentAlert.added_at, IncidentAlert.alert_id)
        )
    )


def description_of(session: Session, incident: Incident) -> str:
    """The incident's description: the person's, or a timeline generated from its alerts."""
    if incident.description:
        return incident.description
    alerts = alert_source.summaries(session, alert_ids_of(session, incident))
    lines = [f"**Severity:** {incident.severity or 'unknown'}"]
    if incident.rule_name:
        lines.append(f"**Opened by rule:** {incident.rule_name}")
    if alerts:
        first = min(a.created_at for a in alerts)
        lines.append(f"**First seen:** {iso(first)}")
        lines.append(f"**Alerts:** {len(alerts)} ({sum(a.count for a in alerts)} occurrences)")
        lines.append("")
        for a in alerts[:50]:
            state = "open" if a.open else "closed"
            lines.append(
                f"- {iso(a.created_at)} [{a.priority}] {a.message} ({state}, seen {a.count} times)"
            )
    return clip("\n".join(lines), MAX_DESCRIPTION)
