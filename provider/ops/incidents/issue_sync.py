"""Keep the Jira issues linked to an incident in step with it: comments and transitions.

What happens to an incident (opened, acknowledged, a note, a severity change, resolved, an issue
linked) becomes, for each issue linked to it and each Jira site linked to its workspace, one
outbox message of kind ``jira_issue`` (``provider.outbox.issues`` delivers it): a comment in
Atlassian Document Format and, where the workspace configured one for the event, a transition.
The messages are enqueued in the caller's transaction, like every change sent to Jira.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from provider.jira.schemas import clip
from provider.ops.incidents.models import EventKind
from provider.ops.incidents.models import Incident
from provider.ops.incidents.models import IncidentEvent
from provider.ops.incidents.models import IssueSyncSettings
from provider.ops.sync.links import links_of
from provider.ops.sync.service import linked_installations
from provider.ops.workspaces.service import Workspace
from provider.outbox.kinds import Kind
from provider.outbox.kinds import Operation
from provider.outbox.queue import enqueue

# The incident events a linked issue hears of, and the name of each in the transition setting.
COMMENTED: dict[EventKind, str | None] = {
    EventKind.OPENED: "opened",
    EventKind.ISSUE_LINKED: "opened",
    EventKind.ACKNOWLEDGED: None,
    EventKind.NOTE: None,
    EventKind.SEVERITY: "severity",
    EventKind.RESOLVED: "resolved",
}
TRANSITION_EVENTS = ("opened", "severity", "resolved")
MAX_COMMENT = 4000


def settings_of(session: Session, workspace_id: int) -> IssueSyncSettings:
    """The workspace's setting (the defaults, unsaved, when it has none)."""
    found = session.get(IssueSyncSettings, workspace_id)
    if found is not None:
        return found
    return IssueSyncSettings(
        workspace_id=workspace_id, comment=True, transitions={}, resolve_on_issue_done=False
    )


def save_settings(
    session: Session,
    workspace_id: int,
    *,
    comment: bool,
    transitions: dict[str, str],
    resolve_on_issue_done: bool,
) -> IssueSyncSettings:
    row = session.get(IssueSyncSettings, workspace_id)
    if row is None:
        row = IssueSyncSettings(workspace_id=workspace_id)
        session.add(row)
    row.comment = comment
    row.transitions = {k: v for k, v in transitions.items() if k in TRANSITION_EVENTS and v}
    row.resolve_on_issue_done = resolve_on_issue_done
    session.flush()
    return row


def adf(text: str, link: tuple[str, str] | None = None) -> dict[str, Any]:
    """A one-paragraph Atlassian Document Format document, with an optional trailing link."""
    content: list[dict[str, Any]] = [{"type": "text", "text": clip(text, MAX_COMMENT)}]
    if link is not None:
        label, href = link
        content += [
            {"type": "text", "text": " "},
            {"type": "text", "text": label, "marks": [{"type": "link", "attrs": {"href": href}}]},
        ]
    return {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": content}]}


def message_id(incident: Incident, event: IncidentEvent, issue_key: str) -> str:
    """The outbox entity id: one per event and issue, so no two comments coalesce."""
    return f"{incident.public_id}:{event.public_id}:{issue_key}"


def parse_message_id(entity_id: str) -> tuple[str, str, str] | None:
    parts = entity_id.split(":")
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 else None


def notify(
    session: Session,
    incident: Incident,
    event: IncidentEvent,
    *,
    issue_keys: Sequence[str] | None = None,
) -> int:
    """Enqueue the issue messages ``event`` calls for; how many."""
    if event.kind not in COMMENTED:
        return 0
    keys = list(incident.issue_keys or []) if issue_keys is None else list(issue_keys)
    if not keys:
        return 0
    config = settings_of(session, incident.workspace_id)
    transition_event = COMMENTED[event.kind]
    transition = (config.transitions or {}).get(transition_event) if transition_event else None
    comment = None
    if config.comment:
        url = links_of(session).incident(incident.public_id)
        comment = adf(f"{event.text} (incident: {incident.summary})", ("Open the incident", url))
    if comment is None and not transition:
        return 0
    sites = linked_installations(session, incident.workspace_id)
    workspace = session.get_one(Workspace, incident.workspace_id)
    count = 0
    for site in sites:
        for key in keys:
            enqueue(
                session,
                installation_id=site.id,
                kind=Kind.ISSUE,
                operation=Operation.SEND,
                entity_id=message_id(incident, event, key),
                payload={"issue": key, "comment": comment, "transition": transition or None},
                group_key=workspace.public_id,
            )
            count += 1
    return count
