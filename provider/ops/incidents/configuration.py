"""A workspace's own incident configuration: its promotion rules and component mappings.

Both are ordered lists, read in order by :mod:`provider.ops.incidents.service`; an entry created
without an ``order`` goes last. Functions take the session first and never commit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.errors import NotFound
from provider.errors import ValidationFailed
from provider.ops.components import service as components
from provider.ops.components.service import Component
from provider.ops.incidents.mapping import MatchType
from provider.ops.incidents.mapping import validate_pattern
from provider.ops.incidents.models import ComponentMapping
from provider.ops.incidents.models import IncidentRule
from provider.ops.incidents.rules import ResolvePolicy
from provider.ops.incidents.rules import RuleAction
from provider.ops.incidents.schemas import ComponentMappingCreate
from provider.ops.incidents.schemas import ComponentMappingUpdate
from provider.ops.incidents.schemas import IncidentRuleCreate
from provider.ops.incidents.schemas import IncidentRuleUpdate
from provider.ops.owned import require_owned

MappingRow = tuple[ComponentMapping, Component]


# Every rule filter and mapping of a workspace is consulted for each of its alerts: the counts
# are capped so that, with the alert's pattern budget, a configuration costs a bounded amount
# whatever it holds.
MAX_RULES_PER_WORKSPACE = 100
MAX_MAPPINGS_PER_WORKSPACE = 200


def _ensure_room(
    session: Session, model: type[IncidentRule | ComponentMapping], workspace_id: int
) -> None:
    """:raises ValidationFailed: when the workspace already has as many as it may."""
    limit, what, code = (
        (MAX_RULES_PER_WORKSPACE, "incident rules", "too_many_rules")
        if model is IncidentRule
        else (MAX_MAPPINGS_PER_WORKSPACE, "component mappings", "too_many_mappings")
    )
    count = session.scalar(
        select(func.count()).select_from(model).where(model.workspace_id == workspace_id)
    )
    if (count or 0) >= limit:
        raise ValidationFailed(f"A workspace may have at most {limit} {what}.", code=code)


def _last_position(
    session: Session, model: type[IncidentRule | ComponentMapping], workspace_id: int
) -> int:
    last = session.scalar(
        select(func.max(model.position)).where(model.workspace_id == workspace_id)
    )
    return -1 if last is None else int(last)


def _set(row: Any, changes: dict[str, Any]) -> None:
    for column, value in changes.items():
        setattr(row, column, value)


# ── promotion rules ────────────────────────────────────────────────────────────────────────────


def list_rules(session: Session, workspace_id: int) -> list[IncidentRule]:
    return list(
        session.scalars(
            select(IncidentRule)
            .where(IncidentRule.workspace_id == workspace_id)
            .order_by(IncidentRule.position, IncidentRule.id)
        )
    )


def require_rule(session: Session, workspace_id: int, public_id: str) -> IncidentRule:
    """:raises NotFound: also for another workspace's rule."""
    return require_owned(
        session, IncidentRule, workspace_id, public_id, what="Incident rule", code="rule_not_found"
    )


def create_rule(session: Session, workspace_id: int, data: IncidentRuleCreate) -> IncidentRule:
    """:raises ValidationFailed: when the workspace has :data:`MAX_RULES_PER_WORKSPACE` rules."""
    _ensure_room(session, IncidentRule, workspace_id)
    rule = IncidentRule(
        workspace_id=workspace_id,
        position=_last_position(session, IncidentRule, workspace_id) + 1,
        filter={},
        action=RuleAction.PROMOTE,
        resolve_policy=ResolvePolicy.LAST_ALERT_CLOSED,
    )
    _set(rule, data.changes())
    session.add(rule)
    session.flush()
    return rule


def update_rule(session: Session, rule: IncidentRule, data: IncidentRuleUpdate) -> None:
    _set(rule, data.changes())
    session.flush()


# ── component mappings ─────────────────────────────────────────────────────────────────────────


def _mappings(workspace_id: int) -> Select[ComponentMapping, Component]:
    return (
        select(ComponentMapping, Component)
        .join(Component, Component.id == ComponentMapping.component_id)
        .where(ComponentMapping.workspace_id == workspace_id)
    )


def list_mappings(session: Session, workspace_id: int) -> list[MappingRow]:
    rows = session.execute(
        _mappings(workspace_id).order_by(ComponentMapping.position, ComponentMapping.id)
    )
    return [(m, c) for m, c in rows]


def require_mapping(session: Session, workspace_id: int, public_id: str) -> MappingRow:
    """:raises NotFound: also for another workspace's mapping."""
    row = session.execute(
        _mappings(workspace_id).where(ComponentMapping.public_id == public_id[:64])
    ).first()
    if row is None:
        raise NotFound("Component mapping does not exist.", code="mapping_not_found")
    return row[0], row[1]


def _component(session: Session, workspace_id: int, public_id: str) -> Component:
    [component_id] = components.require_ids(session, workspace_id, [public_id])
    return session.get_one(Component, component_id)


def create_mapping(session: Session, workspace_id: int, data: ComponentMappingCreate) -> MappingRow:
    """:raises NotFound: when the component is not one of the workspace's.
    :raises ValidationFailed: when the workspace has :data:`MAX_MAPPINGS_PER_WORKSPACE` mappings.
    """
    _ensure_room(session, ComponentMapping, workspace_id)
    component = _component(session, workspace_id, data.component_id)
    row = ComponentMapping(
        workspace_id=workspace_id,
        position=_last_position(session, ComponentMapping, workspace_id) + 1,
        component_id=component.id,
    )
    _set(row, data.changes())
    session.add(row)
    session.flush()
    return row, component


def update_mapping(
    session: Session, mapping: MappingRow, data: ComponentMappingUpdate
) -> MappingRow:
    """:raises NotFound: for a component that is not one of the workspace's.
    :raises ValidationFailed: when the mapping ends up an entityRegex whose value does not compile
        (a new type meets a value stored for the old one).
    """
    row, component = mapping
    if data.component_id is not None:
        component = _component(session, row.workspace_id, data.component_id)
        row.component_id = component.id
    _set(row, data.changes())
    problem = validate_pattern(row.value) if row.match_type is MatchType.ENTITY_REGEX else None
    if problem:
        raise ValidationFailed(f"value {problem}", details={"source": {"pointer": "/value"}})
    session.flush()
    return row, component
