"""The one transform per entity into the shape Jira takes (``provider.jira.schemas``)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from provider.jira.schemas import MAX_DESCRIPTION
from provider.jira.schemas import MAX_ITEMS
from provider.jira.schemas import MAX_SUMMARY
from provider.jira.schemas import SCHEMA_VERSION
from provider.jira.schemas import Association
from provider.jira.schemas import DevOpsComponent
from provider.jira.schemas import Incident as IncidentPayload
from provider.jira.schemas import Review as ReviewPayload
from provider.jira.schemas import SeverityLevel
from provider.jira.schemas import clip
from provider.ops.components.models import Component
from provider.ops.incidents.describe import description_of
from provider.ops.incidents.models import Incident
from provider.ops.incidents.models import IncidentStatus
from provider.ops.incidents.models import Review
from provider.ops.sync import linked
from provider.ops.sync.links import Links
from provider.ops.workspaces.models import Workspace
from provider.times import iso
from provider.times import utcnow


def component_payload(component: Component, workspace: Workspace, links: Links) -> DevOpsComponent:
    return {
        "schemaVersion": SCHEMA_VERSION,
        "id": component.public_id,
        "updateSequenceNumber": component.update_sequence_number,
        "name": component.name,
        "providerName": workspace.name[:255],
        "description": component.description or component.name,
        "url": component.url or links.component(component.public_id),
        "avatarUrl": component.avatar_url or links.component_avatar,
        "tier": component.tier.value,
        "componentType": component.component_type.value,
        "lastUpdated": iso(component.updated_at or utcnow()) or "",
    }


def component_public_ids(session: Session, incident: Incident) -> list[str]:
    ids = linked.components_of(incident.id, Component.public_id).limit(MAX_ITEMS)
    return list(session.scalars(ids))


def _severity(value: str | None) -> SeverityLevel:
    for level in ("P1", "P2", "P3", "P4", "P5"):
        if value == level:
            return level
    return "unknown"


def incident_payload(session: Session, incident: Incident, links: Links) -> IncidentPayload:
    payload: IncidentPayload = {
        "schemaVersion": SCHEMA_VERSION,
        "id": incident.public_id,
        "updateSequenceNumber": incident.update_sequence_number,
        "summary": clip(incident.summary or incident.public_id, MAX_SUMMARY),
        "affectedComponents": component_public_ids(session, incident),
        "description": clip(description_of(session, incident), MAX_DESCRIPTION),
        "url": links.incident(incident.public_id),
        "createdDate": iso(incident.created_at) or "",
        "lastUpdated": iso(incident.updated_at or utcnow()) or "",
        "status": "resolved" if incident.status is IncidentStatus.RESOLVED else "open",
        "severity": {"level": _severity(incident.severity)},
    }
    if incident.issue_keys:
        association: Association = {
            "associationType": "issueIdOrKeys",
            "values": list(incident.issue_keys)[:MAX_ITEMS],
        }
        payload["associations"] = [association]
    return payload


def review_incident_ids(session: Session, review: Review) -> list[str]:
    ids = linked.incidents_of(review.id, Incident.public_id).limit(MAX_ITEMS)
    return list(session.scalars(ids))


def review_payload(session: Session, review: Review, links: Links) -> ReviewPayload:
    return {
        "schemaVersion": SCHEMA_VERSION,
        "id": review.public_id,
        "updateSequenceNumber": review.update_sequence_number,
        "reviews": review_incident_ids(session, review),
        "summary": clip(review.summary or review.public_id, MAX_SUMMARY),
        "description": clip(review.description or review.summary, MAX_DESCRIPTION),
        "url": links.review(review.public_id),
        "createdDate": iso(review.created_at) or "",
        "lastUpdated": iso(review.updated_at or utcnow()) or "",
        "status": review.status.value,
    }
