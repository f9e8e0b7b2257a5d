"""Turn domain changes into outbox messages for every Jira site that links the workspace.

Every change gets a new, strictly larger ``updateSequenceNumber`` (stored on the entity), and every
message is grouped by workspace so the bulk request can carry ``properties.workspaceId``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.connect.models import Installation
from provider.jira.schemas import SCHEMA_VERSION
from provider.jira.schemas import DevOpsComponent
from provider.jira.schemas import next_update_sequence_number
from provider.ops.components.models import Component
from provider.ops.workspaces.models import Workspace
from provider.ops.workspaces.models import WorkspaceLink
from provider.outbox.queue import enqueue
from provider.times import iso
from provider.times import now_ms
from provider.times import utcnow

COMPONENT = "component"
LINKED_WORKSPACE = "linked_workspace"


def linked_installations(session: Session, workspace_id: int) -> list[Installation]:
    """Installations that show this workspace and can currently receive data."""
    rows = session.scalars(
        select(Installation)
        .join(WorkspaceLink, WorkspaceLink.installation_id == Installation.id)
        .where(WorkspaceLink.workspace_id == workspace_id, Installation.installed.is_(True))
        .order_by(Installation.id)
    )
    return list(rows)


def bump_sequence(entity: Component) -> int:
    entity.update_sequence_number = next_update_sequence_number(
        entity.update_sequence_number or 0, now_ms()
    )
    return entity.update_sequence_number


def component_payload(component: Component, workspace: Workspace, base_url: str) -> DevOpsComponent:
    payload: DevOpsComponent = {
        "schemaVersion": SCHEMA_VERSION,
        "id": component.public_id,
        "updateSequenceNumber": component.update_sequence_number,
        "name": component.name,
        "providerName": workspace.name[:255],
        "description": component.description or component.name,
        "url": component.url or f"{base_url}/components/{component.public_id}",
        "avatarUrl": component.avatar_url or f"{base_url}/static/component.svg",
        "tier": component.tier.value,  # type: ignore[typeddict-item]
        "componentType": component.component_type.value,
        "lastUpdated": iso(component.updated_at or utcnow()) or "",
    }
    return payload


def publish_component(
    session: Session, component: Component, *, base_url: str, bump: bool = True
) -> None:
    """Enqueue the component's current state for every site linking its workspace."""
    workspace = session.get_one(Workspace, component.workspace_id)
    if bump:
        bump_sequence(component)
        component.updated_at = utcnow()
    payload = component_payload(component, workspace, base_url)
    for inst in linked_installations(session, workspace.id):
        enqueue(
            session,
            installation_id=inst.id,
            kind=COMPONENT,
            operation="submit",
            entity_id=component.public_id,
            payload=dict(payload),
            group_key=workspace.public_id,
        )


def unpublish_component(session: Session, component: Component) -> None:
    """Enqueue the deletion of a component in every site linking its workspace."""
    workspace = session.get_one(Workspace, component.workspace_id)
    for inst in linked_installations(session, workspace.id):
        enqueue(
            session,
            installation_id=inst.id,
            kind=COMPONENT,
            operation="delete",
            entity_id=component.public_id,
            payload={"id": component.public_id},
            group_key=workspace.public_id,
        )


def backfill_components(session: Session, installation: Installation, *, base_url: str) -> int:
    """Enqueue every component of every workspace linked to ``installation``; returns the count."""
    count = 0
    workspaces = session.scalars(
        select(Workspace)
        .join(WorkspaceLink, WorkspaceLink.workspace_id == Workspace.id)
        .where(WorkspaceLink.installation_id == installation.id)
        .order_by(Workspace.id)
    )
    for workspace in workspaces:
        count += send_workspace_components(session, installation, workspace, base_url=base_url)
    return count


def send_workspace_components(
    session: Session, installation: Installation, workspace: Workspace, *, base_url: str
) -> int:
    """Enqueue every component of ``workspace`` for one site; returns the count."""
    count = 0
    for component in session.scalars(
        select(Component).where(Component.workspace_id == workspace.id).order_by(Component.id)
    ):
        bump_sequence(component)
        enqueue(
            session,
            installation_id=installation.id,
            kind=COMPONENT,
            operation="submit",
            entity_id=component.public_id,
            payload=dict(component_payload(component, workspace, base_url)),
            group_key=workspace.public_id,
        )
        count += 1
    return count
