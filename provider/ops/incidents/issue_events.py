"""What Jira's issue webhooks do to incidents: a linked issue resolved or reopened in Jira.

Only incidents of workspaces linked to the installation that sent the webhook are looked at: a
site never reaches another site's incidents, whatever issue key it names. Functions take the
session first and never commit.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.connect.models import Installation
from provider.ops.incidents import issue_sync
from provider.ops.incidents import responder
from provider.ops.incidents import timeline
from provider.ops.incidents.issue_schemas import IssueWebhook
from provider.ops.incidents.models import EventKind
from provider.ops.incidents.models import Incident
from provider.ops.incidents.models import IncidentEvent
from provider.ops.incidents.models import IncidentStatus
from provider.ops.workspaces.service import WorkspaceLink

logger = logging.getLogger(__name__)

# Incidents looked at per webhook, newest first: an issue is linked to recent incidents, and a
# bound keeps one webhook's cost small whatever the workspace's history.
MAX_CANDIDATES = 1000
DONE = "done"


def linked_incidents(session: Session, installation: Installation, key: str) -> list[Incident]:
    """The incidents linking ``key`` among those the installation may see."""
    workspace_ids = select(WorkspaceLink.workspace_id).where(
        WorkspaceLink.installation_id == installation.id
    )
    candidates = session.scalars(
        select(Incident)
        .where(Incident.workspace_id.in_(workspace_ids))
        .order_by(Incident.id.desc())
        .limit(MAX_CANDIDATES)
    )
    return [i for i in candidates if key in (i.issue_keys or [])]


def _was_done(session: Session, incident: Incident, key: str) -> bool:
    rows = session.scalars(
        select(IncidentEvent)
        .where(
            IncidentEvent.incident_id == incident.id, IncidentEvent.kind == EventKind.ISSUE_EVENT
        )
        .order_by(IncidentEvent.id.desc())
        .limit(50)
    )
    for row in rows:
        if (row.detail or {}).get("issue") == key:
            return bool((row.detail or {}).get("done"))
    return False


def on_issue_webhook(session: Session, installation: Installation, body: IssueWebhook) -> int:
    """Note a linked issue's status change on its incidents; how many incidents heard of it."""
    status_change = next(
        (
            item
            for item in (body.changelog.items if body.changelog else [])
            if item.field == "status"
        ),
        None,
    )
    status = body.issue.fields.status
    if status_change is None or status is None:
        return 0  # only a status change is news for an incident
    key = body.issue.key.upper()
    done = status.status_category.key.casefold() == DONE
    touched = 0
    for incident in linked_incidents(session, installation, key):
        was_done = _was_done(session, incident, key)
        moved = (
            f"from {status_change.from_string or '?'} to {status_change.to_string or status.name}"
        )
        if done and not was_done:
            text = f"Jira issue {key} was resolved in Jira ({moved})"
        elif was_done and not done:
            text = f"Jira issue {key} was reopened in Jira ({moved})"
        else:
            text = f"Jira issue {key} moved {moved}"
        timeline.record(
            session,
            incident,
            EventKind.ISSUE_EVENT,
            text,
            actor=timeline.JIRA,
            detail={"issue": key, "status": status.name, "done": done},
            notify=False,
        )
        touched += 1
        settings = issue_sync.settings_of(session, incident.workspace_id)
        if done and settings.resolve_on_issue_done and incident.status is IncidentStatus.OPEN:
            responder.resolve(
                session, incident, actor=timeline.JIRA, cause=f"{key} was resolved in Jira"
            )
    logger.info("issue webhook key=%s incidents=%s", key, touched)
    return touched
