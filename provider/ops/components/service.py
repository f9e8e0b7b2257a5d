"""Components (services) of a workspace: create, update, delete, each change published to Jira.

The context's interface: other contexts find, lock and fall back on components through the
functions here (and the types re-exported below).
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Sequence

from sqlalchemy import bindparam
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from provider.db import among
from provider.errors import Conflict
from provider.errors import NotFound
from provider.ops.components.models import Component as Component
from provider.ops.components.models import ComponentType as ComponentType
from provider.ops.components.models import Tier as Tier
from provider.ops.components.schemas import ComponentCreate
from provider.ops.components.schemas import ComponentUpdate
from provider.ops.owned import require_owned
from provider.ops.sync import service as sync

# Incidents whose alerts name no known component land here, so Jira always gets one.
FALLBACK_COMPONENT_NAME = "Unassigned"


def list_components(
    session: Session, workspace_id: int, *, name: str = "", offset: int = 0, size: int = 20
) -> tuple[list[Component], int]:
    where = [Component.workspace_id == workspace_id]
    if name:
        where.append(Component.name_lower.contains(name.lower(), autoescape=True))
    total = session.scalar(select(func.count()).select_from(Component).where(*where)) or 0
    rows = session.scalars(
        select(Component)
        .where(*where)
        .order_by(Component.name_lower, Component.id)
        .offset(offset)
        .limit(size)
    ).all()
    return list(rows), total


def require_component(session: Session, workspace_id: int, public_id: str) -> Component:
    """:raises NotFound: also for another workspace's component."""
    return require_owned(
        session, Component, workspace_id, public_id, what="Component", code="component_not_found"
    )


def _name_taken(session: Session, workspace_id: int, name: str, exclude: int | None) -> bool:
    query = select(Component.id).where(
        Component.workspace_id == workspace_id, Component.name == name
    )
    if exclude is not None:
        query = query.where(Component.id != exclude)
    return session.scalars(query.limit(1)).first() is not None


def _flush_unique(session: Session, name: str) -> None:
    # Two requests creating the same name at once both pass the check; the unique constraint
    # decides, and the loser gets the same 409 as a sequential duplicate.
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(
            f"A component named {name!r} already exists.", code="duplicate_name"
        ) from None


def create_component(session: Session, workspace_id: int, data: ComponentCreate) -> Component:
    """:raises Conflict: when the workspace already has a component of that name."""
    values = data.changes()
    name = data.name
    if _name_taken(session, workspace_id, name, None):
        raise Conflict(f"A component named {name!r} already exists.", code="duplicate_name")
    component = Component(
        workspace_id=workspace_id,
        name=name,
        name_lower=name.lower(),
        description=values.get("description") or "",
        url=values.get("url"),
        avatar_url=values.get("avatar_url"),
        tier=data.tier,
        component_type=data.component_type,
    )
    session.add(component)
    _flush_unique(session, name)
    sync.publish(session, component)
    return component


def update_component(session: Session, component: Component, data: ComponentUpdate) -> Component:
    """:raises Conflict: when renaming onto another component's name."""
    values = data.changes()
    if "name" in values:
        if _name_taken(session, component.workspace_id, values["name"], component.id):
            raise Conflict(
                f"A component named {values['name']!r} already exists.", code="duplicate_name"
            )
        component.name_lower = values["name"].lower()
    for attr, value in values.items():
        setattr(component, attr, value)
    _flush_unique(session, component.name)
    sync.publish(session, component)
    return component


def delete_component(session: Session, component: Component) -> None:
    """:raises Conflict: for the workspace's fallback component, which must always exist."""
    if component.is_fallback:
        raise Conflict(
            "The fallback component cannot be deleted: incidents without a component land there.",
            code="fallback_component",
        )
    sync.withdraw(session, component)
    session.delete(component)
    session.flush()


# ── for other contexts ─────────────────────────────────────────────────────────────────────────


def fallback_component(session: Session, workspace_id: int) -> Component:
    """The workspace's fallback component, created (and published) on first need.

    Two first alerts at once cannot both create it: the unique name decides, in a savepoint,
    and the loser finds the winner's row.
    """
    found = _fallback(session, workspace_id)
    if found is not None:
        return found
    by_name = session.scalars(
        select(Component).where(
            Component.workspace_id == workspace_id,
            Component.name_lower == FALLBACK_COMPONENT_NAME.lower(),
        )
    ).first()
    if by_name is not None:
        by_name.is_fallback = True
        return by_name
    component = Component(
        workspace_id=workspace_id,
        name=FALLBACK_COMPONENT_NAME,
        name_lower=FALLBACK_COMPONENT_NAME.lower(),
        description="Incidents whose alerts name no known component land here.",
        tier=Tier.TIER_4,
        component_type=ComponentType.OTHER,
        is_fallback=True,
    )
    try:
        with session.begin_nested():
            session.add(component)
    except IntegrityError:
        raced = _fallback(session, workspace_id)
        if raced is None:
            raise
        return raced
    sync.publish(session, component)
    return component


def _fallback(session: Session, workspace_id: int) -> Component | None:
    return session.scalars(
        select(Component)
        .where(Component.workspace_id == workspace_id, Component.is_fallback.is_(True))
        .order_by(Component.id)
    ).first()


# Built once: alert processing runs these for every alert that may join an incident.
_IDS_NAMED = select(Component.name_lower, Component.id).where(
    Component.workspace_id == bindparam("workspace_id"), among(Component.name_lower, "names")
)
_LOCK = (
    select(Component.id).where(among(Component.id, "ids")).order_by(Component.id).with_for_update()
)


def ids_named(session: Session, workspace_id: int, names: Iterable[str]) -> dict[str, int]:
    """The ids of the workspace's components with these names, by lower-cased name (an index
    range per name, however many components the workspace has)."""
    wanted = sorted({name.lower() for name in names})
    if not wanted:
        return {}
    rows = session.execute(_IDS_NAMED, {"workspace_id": workspace_id, "names": wanted})
    return {row[0]: row[1] for row in rows}


def lock(session: Session, component_ids: Sequence[int]) -> None:
    """Lock these components' rows until the transaction ends (SQLite serialises writers anyway).

    Sorted, so two transactions over overlapping components lock in the same order.
    """
    if not component_ids:
        return
    session.execute(_LOCK, {"ids": sorted(component_ids)}).all()


def require_ids(session: Session, workspace_id: int, public_ids: Sequence[str]) -> list[int]:
    """The row ids of the workspace's components with these public ids, in order.

    :raises NotFound: for an id that is not one of the workspace's components.
    """
    wanted = list(dict.fromkeys(public_ids))
    found = {
        row[0]: row[1]
        for row in session.execute(
            select(Component.public_id, Component.id).where(
                Component.workspace_id == workspace_id, Component.public_id.in_(wanted)
            )
        )
    }
    for public_id in wanted:
        if public_id not in found:
            raise NotFound(f"Component {public_id} does not exist.", code="component_not_found")
    return [found[p] for p in wanted]
