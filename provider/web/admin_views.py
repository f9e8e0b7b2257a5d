"""What the admin page shows, read for one installation only.

Every query here is scoped by the calling installation: workspaces through its links, components
and integrations through those workspaces, outbox rows and associations by ``installation_id``.
Functions take the session first and never commit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.connect.models import Installation
from provider.errors import NotFound
from provider.ops.components.associations import PROJECT_ATI
from provider.ops.components.models import Component
from provider.ops.components.models import ComponentAssociation
from provider.ops.heartbeats import service as heartbeats
from provider.ops.heartbeats.models import Heartbeat
from provider.ops.heartbeats.schemas import state_of
from provider.ops.integrations.models import Integration
from provider.ops.sync.links import links_of
from provider.ops.workspaces.models import Workspace
from provider.ops.workspaces.models import WorkspaceLink
from provider.ops.workspaces.service import AuditEvent
from provider.outbox.budget import budget_json
from provider.outbox.models import DeliveryState
from provider.outbox.models import MessageStatus
from provider.outbox.models import OutboxMessage
from provider.times import iso
from provider.times import utcnow

# The page lists problems, it is not an archive: the newest ones are what a person acts on.
MAX_LISTED_MESSAGES = 50
MAX_LISTED_COMPONENTS = 500
MAX_LISTED_HEARTBEATS = 200


def require_linked_workspace(
    session: Session, installation: Installation, public_id: str
) -> Workspace:
    """The workspace with this id, if it is linked to ``installation``.

    :raises NotFound: also for a workspace that exists but belongs to other sites, so ids of
        other tenants' workspaces cannot be probed.
    """
    workspace = session.scalars(
        select(Workspace)
        .join(WorkspaceLink, WorkspaceLink.workspace_id == Workspace.id)
        .where(
            WorkspaceLink.installation_id == installation.id,
            Workspace.public_id == public_id[:64],
        )
    ).first()
    if workspace is None:
        raise NotFound("No such workspace is linked to this Jira site.", code="workspace_not_found")
    return workspace


def ingestion_url(base_url: str, integration: Integration) -> str:
    return f"{base_url.rstrip('/')}/v1/integrations/{integration.public_id}/events"


def integration_json(integration: Integration, base_url: str) -> dict[str, Any]:
    return {
        "id": integration.public_id,
        "name": integration.name,
        "type": integration.type,
        "enabled": integration.enabled,
        "ingestionUrl": ingestion_url(base_url, integration),
        "createdAt": iso(integration.created_at),
        "keyRotatedAt": iso(integration.key_rotated_at),
    }


def heartbeat_json(heartbeat: Heartbeat) -> dict[str, Any]:
    return {
        "name": heartbeat.name,
        "interval": heartbeat.interval,
        "intervalUnit": heartbeat.interval_unit.value,
        "lastPingAt": iso(heartbeat.last_ping_at),
        "state": state_of(heartbeat),
    }


def workspace_json(
    session: Session, installation: Installation, workspace: Workspace
) -> dict[str, Any]:
    """A linked workspace: its components (and their Jira projects), integrations, heartbeats."""
    link = session.scalars(
        select(WorkspaceLink).where(
            WorkspaceLink.installation_id == installation.id,
            WorkspaceLink.workspace_id == workspace.id,
        )
    ).first()
    components = list(
        session.scalars(
            select(Component)
            .where(Component.workspace_id == workspace.id)
            .order_by(Component.is_fallback, Component.name_lower, Component.id)
            .limit(MAX_LISTED_COMPONENTS)
        )
    )
    projects: dict[int, list[dict[str, str]]] = {c.id: [] for c in components}
    if components:
        for assoc in session.scalars(
            select(ComponentAssociation)
            .where(
                ComponentAssociation.installation_id == installation.id,
                ComponentAssociation.component_id.in_(list(projects)),
                ComponentAssociation.ati == PROJECT_ATI,
            )
            .order_by(ComponentAssociation.id)
        ):
            projects[assoc.component_id].append({"id": assoc.entity_id, "ari": assoc.ari})
    integrations = session.scalars(
        select(Integration).where(Integration.workspace_id == workspace.id).order_by(Integration.id)
    )
    return {
        "id": workspace.public_id,
        "name": workspace.name,
        "linkedAt": iso(link.linked_at) if link else None,
        "components": [
            {
                "id": c.public_id,
                "name": c.name,
                "type": c.component_type.value,
                "tier": c.tier.value,
                "fallback": c.is_fallback,
                "projects": projects[c.id],
            }
            for c in components
        ],
        "integrations": [integration_json(i, links_of(session).base_url) for i in integrations],
        "heartbeats": [
            heartbeat_json(h)
            for h in heartbeats.list_heartbeats(session, workspace.id, size=MAX_LISTED_HEARTBEATS)[
                0
            ]
        ],
    }


def audit_json(event: AuditEvent) -> dict[str, Any]:
    return {
        "at": iso(event.at),
        "action": event.action,
        "actor": event.actor,
        "site": event.client_key,
        "detail": event.detail,
    }


def _entity_label(message: OutboxMessage) -> str:
    payload = message.payload or {}
    for key in ("name", "summary", "displayName"):
        value = payload.get(key)
        if isinstance(value, str) and value:
            return value[:200]
    return message.entity_id


def _message_json(message: OutboxMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "kind": message.kind,
        "operation": message.operation,
        "entityId": message.entity_id,
        "entity": _entity_label(message),
        "attempts": message.attempts,
        "error": message.last_error,
        "updatedAt": iso(message.updated_at),
    }


def delivery_json(session: Session, installation: Installation) -> dict[str, Any]:
    """Delivery health of one site: counts, Jira's rejections, dead letters, pause, throttle."""
    counts = {status.value: 0 for status in MessageStatus}
    for status, count in session.execute(
        select(OutboxMessage.status, func.count())
        .where(OutboxMessage.installation_id == installation.id)
        .group_by(OutboxMessage.status)
    ):
        counts[str(status)] = count
    state = session.scalars(
        select(DeliveryState).where(DeliveryState.installation_id == installation.id)
    ).first()

    def listed(status: MessageStatus) -> list[dict[str, Any]]:
        rows = session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.installation_id == installation.id,
                OutboxMessage.status == status,
            )
            .order_by(OutboxMessage.updated_at.desc(), OutboxMessage.id.desc())
            .limit(MAX_LISTED_MESSAGES)
        )
        return [_message_json(m) for m in rows]

    return {
        "counts": counts,
        "failed": listed(MessageStatus.FAILED),
        "dead": listed(MessageStatus.DEAD),
        "lastSuccessAt": iso(state.last_success_at) if state else None,
        "lastError": state.last_error if state else None,
        "lastErrorAt": iso(state.last_error_at) if state else None,
        "throttledUntil": iso(state.not_before) if state else None,
        "unknownProjectKeys": list(state.unknown_project_keys or []) if state else [],
        "paused": installation.delivery_paused_at is not None,
        "pausedAt": iso(installation.delivery_paused_at),
        "pausedReason": installation.delivery_paused_reason,
        "budget": budget_json(state, utcnow()),
    }


def site_json(installation: Installation) -> dict[str, Any]:
    return {
        "baseUrl": installation.base_url,
        "displayUrl": installation.display_url or installation.base_url,
        "state": installation.state.value,
    }
