"""What a responder does to an incident: acknowledge, note, change severity, resolve, link issues.

Each action goes on the incident's timeline (which tells the linked Jira issues) and sends the
incident to the Jira sites of its workspace, all in the caller's transaction. Functions take the
session first and never commit; they raise the app's errors for anything a person typed wrong.
"""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from provider.errors import Conflict
from provider.errors import ValidationFailed
from provider.ops.incidents import mapping
from provider.ops.incidents import service
from provider.ops.incidents import timeline
from provider.ops.incidents.models import EventKind
from provider.ops.incidents.models import Incident
from provider.ops.incidents.models import IncidentStatus
from provider.ops.priority import PRIORITIES
from provider.ops.sync import service as sync
from provider.times import utcnow

MAX_NOTE = 4000
MAX_CAUSE = 500
# Jira's issue keys: a project key, a dash and a number (ids alone are not linkable by hand).
ISSUE_KEY = re.compile(r"[A-Z][A-Z0-9_]{0,254}-[1-9][0-9]{0,17}")


def _require_open(incident: Incident, action: str) -> None:
    if incident.status is IncidentStatus.RESOLVED:
        raise Conflict(
            f"The incident is resolved; it cannot be {action}.", code="incident_resolved"
        )


def acknowledge(session: Session, incident: Incident, *, actor: str) -> bool:
    """Acknowledge the incident; ``False`` when it already was (nothing changes)."""
    _require_open(incident, "acknowledged")
    if incident.acknowledged_at is not None:
        return False
    incident.acknowledged_at = utcnow()
    timeline.record(
        session, incident, EventKind.ACKNOWLEDGED, f"Acknowledged by {actor}", actor=actor
    )
    sync.publish(session, incident)
    return True


def add_note(session: Session, incident: Incident, text: str, *, actor: str) -> None:
    note = text.strip()
    if not note:
        raise ValidationFailed("note is required", details={"fields": {"note": "is required"}})
    if len(note) > MAX_NOTE:
        message = f"must be at most {MAX_NOTE} characters"
        raise ValidationFailed(f"note {message}", details={"fields": {"note": message}})
    timeline.record(session, incident, EventKind.NOTE, f"Note from {actor}: {note}", actor=actor)
    sync.publish(session, incident)


def change_severity(
    session: Session, incident: Incident, severity: str, cause: str, *, actor: str
) -> bool:
    """Set the severity; ``False`` when it is already that (nothing changes)."""
    if severity not in PRIORITIES:
        message = "must be one of " + ", ".join(PRIORITIES)
        raise ValidationFailed(f"severity {message}", details={"fields": {"severity": message}})
    reason = cause.strip()[:MAX_CAUSE] or "no reason given"
    _require_open(incident, "changed")
    if incident.severity == severity:
        return False
    service.set_severity(session, incident, severity, cause=f"{reason} ({actor})", actor=actor)
    sync.publish(session, incident)
    return True


def resolve(session: Session, incident: Incident, *, actor: str, cause: str = "") -> bool:
    """Resolve the incident; ``False`` when it already was."""
    if incident.status is IncidentStatus.RESOLVED:
        return False
    service.resolve_by_hand(
        session, incident, actor=actor, cause=cause.strip()[:MAX_CAUSE] or f"by {actor}"
    )
    return True


def normalise_key(raw: str) -> str:
    key = raw.strip().upper()
    if not ISSUE_KEY.fullmatch(key):
        message = "must be a Jira issue key such as OPS-12"
        raise ValidationFailed(f"issue {message}", details={"fields": {"issue": message}})
    return key


def link_issue(session: Session, incident: Incident, raw_key: str, *, actor: str) -> bool:
    """Link a Jira issue; ``False`` when it already was linked."""
    key = normalise_key(raw_key)
    keys = list(incident.issue_keys or [])
    if key in keys:
        return False
    if len(keys) >= mapping.MAX_ISSUE_KEYS:
        raise Conflict(
            f"An incident links at most {mapping.MAX_ISSUE_KEYS} issues.", code="too_many_issues"
        )
    incident.issue_keys = [*keys, key]
    timeline.issues_linked(session, incident, [key], actor, actor)
    sync.publish(session, incident)
    return True


def unlink_issue(session: Session, incident: Incident, raw_key: str, *, actor: str) -> bool:
    """Unlink a Jira issue; ``False`` when it was not linked."""
    key = normalise_key(raw_key)
    keys = list(incident.issue_keys or [])
    if key not in keys:
        return False
    incident.issue_keys = [k for k in keys if k != key]
    timeline.issue_unlinked(session, incident, key, actor=actor)
    sync.publish(session, incident)
    return True
