"""Send each change to every Jira site that should see it, through the outbox.

:func:`publish` is what a context calls after changing a component, an incident or a review:
it bumps the entity's ``updateSequenceNumber`` (Jira silently drops equal or lower numbers),
builds its payload once, and enqueues it for each installation linking the entity's
workspace, grouped by workspace so the bulk request carries ``properties.workspaceId``. All of
it in the caller's transaction: a change and its messages commit together.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.connect.models import Installation
from provider.jira.schemas import next_update_sequence_number
from provider.ops.components.models import Component
from provider.ops.incidents.models import Incident
from provider.ops.incidents.models import IncidentStatus
from provider.ops.incidents.models import Review
from provider.ops.sync.links import links_of
from provider.ops.sync.payloads import component_payload
from provider.ops.sync.payloads import incident_payload
from provider.ops.sync.payloads import review_payload
from provider.ops.workspaces.models import Workspace
from provider.ops.workspaces.models import WorkspaceLink
from provider.outbox.kinds import Kind
from provider.outbox.kinds import Operation
from provider.outbox.queue import enqueue
from provider.times import now_ms
from provider.times import utcnow

Entity = Component | Incident | Review


def linked_installations(session: Session, workspace_id: int) -> list[Installation]:
    """Installations that show this workspace and can currently receive data."""
    return list(
        session.scalars(
            select(Installation)
            .join(WorkspaceLink, WorkspaceLink.installation_id == Installation.id)
            .where(WorkspaceLink.workspace_id == workspace_id, Installation.installed.is_(True))
            .order_by(Installation.id)
        )
    )


def linked_workspaces(session: Session, installation: Installation) -> list[Workspace]:
    """The workspaces an installation may see, oldest link first."""
    return list(
        session.scalars(
            select(Workspace)
            .join(WorkspaceLink, WorkspaceLink.workspace_id == Workspace.id)
            .where(WorkspaceLink.installation_id == installation.id)
            .order_by(WorkspaceLink.id)
        )
    )


def _kind(entity: Entity) -> Kind:
    if isinstance(entity, Component):
        return Kind.COMPONENT
    if isinstance(entity, Incident):
        return Kind.INCIDENT
    return Kind.REVIEW


def _payload(session: Session, entity: Entity, workspace: Workspace) -> dict[str, Any] | None:
    links = links_of(session)
    if isinstance(entity, Component):
        return dict(component_payload(entity, workspace, links))
    if isinstance(entity, Incident):
        return dict(incident_payload(session, entity, links))
    payload = review_payload(session, entity, links)
    # Jira requires a review to cover at least one incident; one with none is not sent.
    return dict(payload) if payload["reviews"] else None


def publish(session: Session, entity: Entity, *, to: Sequence[Installation] | None = None) -> None:
    """Send the entity's current state to every site linking its workspace (or only ``to``).

    Every change gets a new, larger sequence number, sent or not: Jira drops a submission whose
    number is not larger than the one it holds.
    """
    entity.update_sequence_number = next_update_sequence_number(
        entity.update_sequence_number or 0, now_ms()
    )
    entity.updated_at = utcnow()
    session.flush()
    workspace = session.get_one(Workspace, entity.workspace_id)
    sites = linked_installations(session, workspace.id) if to is None else to
    if not sites:
        return  # no site shows this workspace yet: linking will send the entity
    payload = _payload(session, entity, workspace)
    if payload is None:
        return
    for site in sites:
        _enqueue(session, site, workspace, entity, Operation.SUBMIT, dict(payload))


def withdraw(session: Session, entity: Entity) -> None:
    """Delete the entity from every site linking its workspace."""
    workspace = session.get_one(Workspace, entity.workspace_id)
    for site in linked_installations(session, workspace.id):
        _enqueue(session, site, workspace, entity, Operation.DELETE, {"id": entity.public_id})


def _enqueue(
    session: Session,
    site: Installation,
    workspace: Workspace,
    entity: Entity,
    operation: Operation,
    payload: dict[str, Any],
) -> None:
    enqueue(
        session,
        installation_id=site.id,
        kind=_kind(entity),
        operation=operation,
        entity_id=entity.public_id,
        payload=payload,
        # A batch holds one workspace's entities: Jira tags them with its id (``workspaceId``).
        group_key=workspace.public_id,
    )


def show_workspace(session: Session, installation: Installation, workspace: Workspace) -> None:
    """Tell a site the workspace is linked to it."""
    _workspace_message(session, installation, workspace, Operation.SUBMIT)


def hide_workspace(session: Session, installation: Installation, workspace: Workspace) -> None:
    """Unlink the workspace in the site, which also deletes its data there by property."""
    _workspace_message(session, installation, workspace, Operation.DELETE)


def _workspace_message(
    session: Session, installation: Installation, workspace: Workspace, operation: Operation
) -> None:
    enqueue(
        session,
        installation_id=installation.id,
        kind=Kind.LINKED_WORKSPACE,
        operation=operation,
        entity_id=workspace.public_id,
        payload={"workspaceId": workspace.public_id},
        group_key=workspace.public_id,
    )


def push_components(session: Session, installation: Installation, workspace: Workspace) -> int:
    """Send every component of ``workspace`` to one site; how many."""
    rows = session.scalars(
        select(Component).where(Component.workspace_id == workspace.id).order_by(Component.id)
    )
    return _push(session, installation, rows)


def push_incidents(
    session: Session, installation: Installation, workspace: Workspace, *, open_only: bool
) -> int:
    """Send the workspace's incidents (or only the open ones) to one site; how many."""
    stmt = select(Incident).where(Incident.workspace_id == workspace.id)
    if open_only:
        stmt = stmt.where(Incident.status == IncidentStatus.OPEN)
    return _push(session, installation, session.scalars(stmt.order_by(Incident.id)))


def push_reviews(session: Session, installation: Installation, workspace: Workspace) -> int:
    """Send every review of ``workspace`` to one site; how many."""
    rows = session.scalars(
        select(Review).where(Review.workspace_id == workspace.id).order_by(Review.id)
    )
    return _push(session, installation, rows)


def _push(session: Session, installation: Installation, entities: Iterable[Entity]) -> int:
    count = 0
    for entity in entities:
        publish(session, entity, to=[installation])
        count += 1
    return count


def push_linked_workspace(
    session: Session, installation: Installation, workspace: Workspace
) -> int:
    """What a site gets when a workspace is linked to it: the link, components, open incidents."""
    show_workspace(session, installation, workspace)
    return push_components(session, installation, workspace) + push_incidents(
        session, installation, workspace, open_only=True
    )


Step = Callable[[Session, Installation, Workspace], int]


def _show_workspace_step(session: Session, installation: Installation, workspace: Workspace) -> int:
    show_workspace(session, installation, workspace)
    return 1


# Jira deletes an app's data on uninstall and does not bring it back on re-install, so a
# re-install (and ``provider resync``) replays everything, in the order the worker delivers it.
BACKFILL_STEPS: tuple[tuple[str, Step], ...] = (
    ("linked workspaces", _show_workspace_step),
    ("components", push_components),
    ("incidents", lambda s, i, w: push_incidents(s, i, w, open_only=False)),
    ("reviews", push_reviews),
)


def run_backfill_step(session: Session, installation: Installation, step: Step) -> int:
    """One step of the backfill for every workspace linked to ``installation``."""
    return sum(step(session, installation, w) for w in linked_workspaces(session, installation))


def backfill(session: Session, installation: Installation) -> int:
    """Enqueue everything a site should hold; returns how many messages."""
    return sum(run_backfill_step(session, installation, step) for _label, step in BACKFILL_STEPS)
