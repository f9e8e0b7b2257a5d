"""Incidents and reviews on the wire: Jira payloads, and their pushes to every linked site.

Every change bumps the entity's ``updateSequenceNumber`` (Jira drops equal or lower numbers) and
enqueues one message per installation linking the workspace, grouped by workspace so the bulk
request carries ``properties.workspaceId``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.connect.models import Installation
from provider.jira.schemas import SCHEMA_VERSION
from provider.jira.schemas import Association
from provider.jira.schemas import Incident as IncidentPayload
from provider.jira.schemas import Review as ReviewPayload
from provider.jira.schemas import next_update_sequence_number
from provider.ops.components.models import Component
from provider.ops.components.publishing import linked_installations
from provider.ops.incidents.facts import PRIORITIES
from provider.ops.incidents.models import Incident
from provider.ops.incidents.models import IncidentComponent
from provider.ops.incidents.models import IncidentStatus
from provider.ops.incidents.models import Review
from provider.ops.incidents.models import ReviewIncident
from provider.ops.workspaces.models import Workspace
from provider.ops.workspaces.models import WorkspaceLink
from provider.outbox.queue import enqueue
from provider.times import iso
from provider.times import now_ms
from provider.times import utcnow

INCIDENT = "incident"
REVIEW = "review"
MAX_SUMMARY = 255
MAX_DESCRIPTION = 5000
MAX_ITEMS = 100


def clip(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` characters, marking the cut."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def bump(entity: Incident | Review) -> int:
    entity.update_sequence_number = next_update_sequence_number(
        entity.update_sequence_number or 0, now_ms()
    )
    entity.updated_at = utcnow()
    return entity.update_sequence_number


def component_public_ids(session: Session, incident: Incident) -> list[str]:
    return list(
        session.scalars(
            select(Component.public_id)
            .join(IncidentComponent, IncidentComponent.component_id == Component.id)
            .where(IncidentComponent.incident_id == incident.id)
            .order_by(IncidentComponent.position, Component.id)
            .limit(MAX_ITEMS)
        )
    )


def incident_url(base_url: str, incident: Incident) -> str:
    return f"{base_url.rstrip('/')}/incidents/{incident.public_id}"


def review_url(base_url: str, review: Review) -> str:
    return f"{base_url.rstrip('/')}/reviews/{review.public_id}"


def incident_payload(
    session: Session, incident: Incident, *, base_url: str, description: str
) -> IncidentPayload:
    payload: IncidentPayload = {
        "schemaVersion": SCHEMA_VERSION,
        "id": incident.public_id,
        "updateSequenceNumber": incident.update_sequence_number,
        "summary": clip(incident.summary or incident.public_id, MAX_SUMMARY),
        "affectedComponents": component_public_ids(session, incident),
        "description": clip(description, MAX_DESCRIPTION),
        "url": incident_url(base_url, incident),
        "createdDate": iso(incident.created_at) or "",
        "lastUpdated": iso(incident.updated_at or utcnow()) or "",
        "status": "resolved" if incident.status is IncidentStatus.RESOLVED else "open",
        "severity": {
            "level": incident.severity if incident.severity in PRIORITIES else "unknown"  # type: ignore[typeddict-item]
        },
    }
    if incident.issue_keys:
        association: Association = {
            "associationType": "issueIdOrKeys",
            "values": list(incident.issue_keys)[:MAX_ITEMS],
        }
        payload["associations"] = [association]
    return payload


def review_incident_ids(session: Session, review: Review) -> list[str]:
    return list(
        session.scalars(
            select(Incident.public_id)
            .join(ReviewIncident, ReviewIncident.incident_id == Incident.id)
            .where(ReviewIncident.review_id == review.id)
            .order_by(ReviewIncident.position, Incident.id)
            .limit(MAX_ITEMS)
        )
    )


def review_payload(session: Session, review: Review, *, base_url: str) -> ReviewPayload:
    return {
        "schemaVersion": SCHEMA_VERSION,
        "id": review.public_id,
        "updateSequenceNumber": review.update_sequence_number,
        "reviews": review_incident_ids(session, review),
        "summary": clip(review.summary or review.public_id, MAX_SUMMARY),
        "description": clip(review.description or review.summary, MAX_DESCRIPTION),
        "url": review_url(base_url, review),
        "createdDate": iso(review.created_at) or "",
        "lastUpdated": iso(review.updated_at or utcnow()) or "",
        "status": review.status.value,  # type: ignore[typeddict-item]
    }


def _enqueue_for(
    session: Session,
    installations: list[Installation],
    *,
    kind: str,
    entity_id: str,
    payload: dict[str, object],
    workspace: Workspace,
) -> None:
    for inst in installations:
        enqueue(
            session,
            installation_id=inst.id,
            kind=kind,
            operation="submit",
            entity_id=entity_id,
            payload=dict(payload),
            group_key=workspace.public_id,
        )


def enqueue_incident(
    session: Session,
    incident: Incident,
    *,
    base_url: str,
    description: str,
    installations: list[Installation] | None = None,
) -> None:
    """Enqueue the incident's current state (its sequence number already bumped)."""
    workspace = session.get_one(Workspace, incident.workspace_id)
    targets = (
        linked_installations(session, workspace.id) if installations is None else installations
    )
    payload = incident_payload(session, incident, base_url=base_url, description=description)
    _enqueue_for(
        session,
        targets,
        kind=INCIDENT,
        entity_id=incident.public_id,
        payload=dict(payload),
        workspace=workspace,
    )


def publish_review(
    session: Session,
    review: Review,
    *,
    base_url: str,
    installations: list[Installation] | None = None,
    bump_sequence: bool = True,
) -> None:
    """Bump the review's sequence number and enqueue it for every site linking its workspace."""
    if bump_sequence:
        bump(review)
    workspace = session.get_one(Workspace, review.workspace_id)
    targets = (
        linked_installations(session, workspace.id) if installations is None else installations
    )
    payload = review_payload(session, review, base_url=base_url)
    if not payload["reviews"]:
        return  # Jira requires at least one incident; a review with none is not sent
    _enqueue_for(
        session,
        targets,
        kind=REVIEW,
        entity_id=review.public_id,
        payload=dict(payload),
        workspace=workspace,
    )


def workspaces_of(session: Session, installation: Installation) -> list[Workspace]:
    return list(
        session.scalars(
            select(Workspace)
            .join(WorkspaceLink, WorkspaceLink.workspace_id == Workspace.id)
            .where(WorkspaceLink.installation_id == installation.id)
            .order_by(Workspace.id)
        )
    )
