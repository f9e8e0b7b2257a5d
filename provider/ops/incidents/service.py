"""Incidents as the rest of the app uses them: found, created, changed and resolved by hand.

The promotion of alerts into incidents is :mod:`provider.ops.incidents.promotion`; what is here
is the interface of the context (the ``/v1`` API, the pages). Functions take the session first
and never commit.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.errors import NotFound
from provider.jira.schemas import MAX_SUMMARY
from provider.jira.schemas import clip
from provider.ops.components import service as components
from provider.ops.incidents import alert_source
from provider.ops.incidents import mapping
from provider.ops.incidents import timeline
from provider.ops.incidents.batch import drop_candidate
from provider.ops.incidents.models import EventKind
from provider.ops.incidents.models import Incident
from provider.ops.incidents.models import IncidentAlert
from provider.ops.incidents.models import IncidentStatus
from provider.ops.incidents.promotion import add_components
from provider.ops.incidents.promotion import attach
from provider.ops.incidents.promotion import open_incident
from provider.ops.incidents.promotion import resolve
from provider.ops.incidents.promotion import resolve_components
from provider.ops.incidents.rules import ResolvePolicy
from provider.ops.owned import require_owned
from provider.ops.sync import service as sync
from provider.ops.workspaces.service import Workspace
from provider.times import utcnow

logger = logging.getLogger(__name__)


def count_open(session: Session, workspace_id: int) -> int:
    return int(
        session.scalar(
            select(func.count(Incident.id)).where(
                Incident.workspace_id == workspace_id, Incident.status == IncidentStatus.OPEN
            )
        )
        or 0
    )


# ── incidents by hand (the /v1 API) ────────────────────────────────────────────────────────────


def require_incident(session: Session, workspace_id: int, public_id: str) -> Incident:
    """:raises NotFound: also for another workspace's incident."""
    return require_owned(
        session, Incident, workspace_id, public_id, what="Incident", code="incident_not_found"
    )


def attach_alerts(session: Session, incident: Incident, alert_public_ids: Sequence[str]) -> None:
    """Attach alerts of the incident's workspace (by hand); alerts in another incident move.

    :raises NotFound: for an alert that is not the workspace's.
    """
    workspace = session.get_one(Workspace, incident.workspace_id)
    for public_id in dict.fromkeys(alert_public_ids):
        alert = alert_source.visible_alert(session, incident.workspace_id, public_id)
        if alert is None:
            raise NotFound(f"Alert {public_id} does not exist.", code="alert_not_found")
        facts = alert_source.facts_of(alert)
        session.execute(delete(IncidentAlert).where(IncidentAlert.alert_id == alert.id))
        drop_candidate(session, alert.id)
        attach(
            session,
            incident,
            facts,
            resolve_components(session, workspace, facts),
        )


def create_incident(
    session: Session,
    workspace: Workspace,
    *,
    summary: str,
    description: str | None = None,
    severity: str | None = None,
    component_ids: Sequence[int] = (),
    alert_public_ids: Sequence[str] = (),
    issue_keys: Sequence[str] = (),
    resolve_policy: ResolvePolicy | None = None,
    created_by: str = "api",
) -> Incident:
    incident = open_incident(
        session,
        workspace,
        summary=summary,
        created_by=created_by,
        severity=severity,
        resolve_policy=resolve_policy or ResolvePolicy.MANUAL,
        description=description,
    )
    if component_ids:
        add_components(session, incident, component_ids)
    attach_alerts(session, incident, alert_public_ids)
    if not component_ids and not alert_public_ids:
        add_components(session, incident, [components.fallback_component(session, workspace.id).id])
    incident.issue_keys = mapping.merge_keys(incident.issue_keys or [], issue_keys)
    timeline.record(
        session,
        incident,
        EventKind.OPENED,
        f"Incident opened through the API ({created_by})",
        actor=created_by,
    )
    sync.publish(session, incident)
    return incident


def update_incident(
    session: Session,
    incident: Incident,
    *,
    summary: str | None = None,
    description: str | None = None,
    severity: str | None = None,
    component_ids: Sequence[int] | None = None,
    alert_public_ids: Sequence[str] = (),
    issue_keys: Sequence[str] | None = None,
    resolve_policy: ResolvePolicy | None = None,
) -> Incident:
    if summary is not None:
        incident.summary = clip(summary, MAX_SUMMARY)
    if description is not None:
        incident.description = description or None
    if severity is not None and severity != incident.severity:
        set_severity(session, incident, severity, cause="changed through the API", actor="api")
    if resolve_policy is not None:
        incident.resolve_policy = resolve_policy
    if component_ids:
        add_components(session, incident, component_ids)
    if alert_public_ids:
        attach_alerts(session, incident, alert_public_ids)
    if issue_keys is not None:
        before = list(incident.issue_keys or [])
        incident.issue_keys = list(dict.fromkeys(issue_keys))[: mapping.MAX_ISSUE_KEYS]
        added = [k for k in incident.issue_keys if k not in before]
        timeline.issues_linked(session, incident, added, "the API", "api")
        for key in before:
            if key not in incident.issue_keys:
                timeline.issue_unlinked(session, incident, key, actor="api")
    sync.publish(session, incident)
    return incident


def set_severity(
    session: Session, incident: Incident, severity: str, *, cause: str, actor: str
) -> None:
    """Set the severity by hand (it may go down as well as up), with its cause on the timeline."""
    before = incident.severity
    incident.severity = severity
    incident.severity_alert_id = None
    incident.severity_raised_at = utcnow()
    timeline.severity_changed(session, incident, before, cause, actor=actor)


def resolve_by_hand(
    session: Session, incident: Incident, *, actor: str = "api", cause: str = "resolved by hand"
) -> Incident:
    if incident.status is not IncidentStatus.RESOLVED:
        resolve(session, incident)
        timeline.resolved(session, incident, cause, actor=actor)
        sync.publish(session, incident)
    return incident
