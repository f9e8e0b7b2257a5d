"""Re-send everything a Jira site should have, in dependency order.

Jira deletes an app's data on uninstall and does not bring it back on re-install, so a
re-install (and ``provider resync``) replays the linked workspaces, then the components, then
the incidents, then the reviews. Each step only enqueues (coalescing with pending messages), in
the caller's transaction; the worker delivers in the same order.

``BACKFILLS`` is the ordered list; later parts append their steps (incidents, then reviews).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.connect.models import Installation
from provider.ops.components.publishing import LINKED_WORKSPACE
from provider.ops.components.publishing import backfill_components
from provider.ops.incidents.reviews import backfill_reviews
from provider.ops.incidents.service import backfill_incidents
from provider.ops.workspaces.models import Workspace
from provider.ops.workspaces.models import WorkspaceLink
from provider.outbox.queue import enqueue

# (label, step): a step enqueues what one entity family needs and returns how many it enqueued.
Backfill = Callable[..., int]


def linked_workspaces(session: Session, installation: Installation) -> list[Workspace]:
    return list(
        session.scalars(
            select(Workspace)
            .join(WorkspaceLink, WorkspaceLink.workspace_id == Workspace.id)
            .where(WorkspaceLink.installation_id == installation.id)
            .order_by(Workspace.id)
        )
    )


def backfill_linked_workspaces(
    session: Session, installation: Installation, *, base_url: str
) -> int:
    """Enqueue the link of every workspace linked to ``installation``."""
    workspaces = linked_workspaces(session, installation)
    for workspace in workspaces:
        enqueue(
            session,
            installation_id=installation.id,
            kind=LINKED_WORKSPACE,
            operation="submit",
            entity_id=workspace.public_id,
            payload={},
            group_key=workspace.public_id,
        )
    return len(workspaces)


BACKFILLS: list[tuple[str, Backfill]] = [
    ("linked workspaces", backfill_linked_workspaces),
    ("components", backfill_components),
    ("incidents", backfill_incidents),
    ("reviews", backfill_reviews),
]


def backfill_installation(session: Session, installation: Installation, *, base_url: str) -> int:
    """Run every backfill step for ``installation``; returns how many messages were enqueued."""
    return sum(step(session, installation, base_url=base_url) for _label, step in BACKFILLS)
