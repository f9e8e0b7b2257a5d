"""Integrations and their actions: create, change, order, and look them up by key.

Domain functions take the session first and never commit. Every lookup is scoped to a
workspace, so an id of another workspace is simply "not found".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.crypto import hash_key
from provider.crypto import new_key
from provider.errors import Conflict
from provider.errors import NotFound
from provider.errors import ValidationFailed
from provider.ops.integrations.action_inputs import UrlCheck
from provider.ops.integrations.engine import EVALUATION_ORDER
from provider.ops.integrations.engine import ActionSpec
from provider.ops.integrations.models import Integration
from provider.ops.integrations.models import IntegrationAction
from provider.ops.integrations.schemas import IntegrationActionCreate
from provider.ops.integrations.schemas import IntegrationActionUpdate
from provider.ops.integrations.schemas import IntegrationCreate
from provider.ops.integrations.schemas import IntegrationUpdate
from provider.ops.lang import filter_schemas
from provider.ops.lang import filters
from provider.ops.owned import require_owned
from provider.ops.workspaces import service as workspaces
from provider.times import utcnow

logger = logging.getLogger(__name__)

KEY_PREFIX = "opsint"
MAX_ACTIONS_PER_INTEGRATION = 255
# Outgoing actions of every integration are consulted for each change of each alert of the
# workspace; capped so that, with the alert's pattern budget, their cost is bounded.
MAX_OUTGOING_ACTIONS_PER_WORKSPACE = 200
MAX_INTEGRATIONS_PER_WORKSPACE = 100
_TYPE_RANK = {t.value: i for i, t in enumerate(EVALUATION_ORDER)}

#: Actions a new integration starts with, by type: the API integration mirrors the alert API,
#: the Email integration the seed's example (subject → message, sender → details).
DEFAULT_ACTIONS: dict[str, list[dict[str, Any]]] = {
    "API": [
        {
            "type": "create",
            "name": "Create alert",
            "fieldMappings": {},
        }
    ],
    "Email": [
        {
            "type": "create",
            "name": "Create alert",
            "fieldMappings": {
                "note": "",
                "description": "{{message}}",
                "source": "Email",
                "message": "{{subject}}",
                "priority": "{{priority}}",
                "tags": [],
                "alias": "",
                "details": {"From": "{{from_address}}"},
                "user": "",
                "actions": [],
                "entity": "",
            },
        }
    ],
}


# ---------------------------------------------------------------------------------------------
# Integrations


def list_integrations(
    session: Session, workspace_id: int, *, offset: int, size: int
) -> tuple[list[Integration], int]:
    base = select(Integration).where(Integration.workspace_id == workspace_id)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = session.scalars(base.order_by(Integration.id).offset(offset).limit(size)).all()
    return list(rows), total


def require_integration(session: Session, workspace_id: int, public_id: str) -> Integration:
    """:raises NotFound: when the workspace has no such integration."""
    return require_owned(
        session,
        Integration,
        workspace_id,
        public_id,
        what="Integration",
        code="integration_not_found",
    )


def create_integration(
    session: Session, workspace_id: int, data: IntegrationCreate, *, actor: str = "api-key"
) -> tuple[Integration, str]:
    """Create an integration with its default actions; returns it and its key (shown once).

    :param actor: who creates it, for the workspace's audit log.
    :raises Conflict: when the workspace already has an integration of that name.
    :raises ValidationFailed: when it has :data:`MAX_INTEGRATIONS_PER_WORKSPACE` already.
    """
    attributes = data.attributes()
    _ensure_unique_name(session, workspace_id, attributes["name"])
    count = session.scalar(
        select(func.count())
        .select_from(Integration)
        .where(Integration.workspace_id == workspace_id)
    )
    if (count or 0) >= MAX_INTEGRATIONS_PER_WORKSPACE:
        raise ValidationFailed(
            f"A workspace may have at most {MAX_INTEGRATIONS_PER_WORKSPACE} integrations.",
            code="too_many_integrations",
        )
    key = new_key(KEY_PREFIX)
    integration = Integration(workspace_id=workspace_id, api_key_hash=hash_key(key), **attributes)
    session.add(integration)
    session.flush()
    for rank, spec in enumerate(DEFAULT_ACTIONS.get(integration.type, [])):
        session.add(
            IntegrationAction(
                integration_id=integration.id,
                type=spec["type"],
                name=spec["name"],
                direction="incoming",
                rank=float(rank + 1),
                enabled=True,
                filter=filters.MATCH_ALL.to_json(),
                field_mappings=spec["fieldMappings"],
                type_specific_properties={},
            )
        )
    session.flush()
    _audit(session, integration, "integration.created", actor)
    logger.info("integration created id=%s type=%s", integration.public_id, integration.type)
    return integration, key


def update_integration(
    session: Session, integration: Integration, data: IntegrationUpdate, *, actor: str = "api-key"
) -> None:
    """:raises Conflict: when renaming onto another integration's name."""
    changes = data.changes()
    name = changes.get("name")
    if name is not None and name != integration.name:
        _ensure_unique_name(session, integration.workspace_id, name)
    for attribute, value in changes.items():
        setattr(integration, attribute, value)
    integration.updated_at = utcnow()
    session.flush()
    _audit(session, integration, "integration.updated", actor, ", ".join(sorted(changes)))


def delete_integration(
    session: Session, integration: Integration, *, actor: str = "api-key"
) -> None:
    _audit(session, integration, "integration.deleted", actor)
    session.delete(integration)
    session.flush()


def rotate_key(session: Session, integration: Integration, *, actor: str = "api-key") -> str:
    """Replace the integration's key; the old one stops working at once."""
    key = new_key(KEY_PREFIX)
    integration.api_key_hash = hash_key(key)
    integration.key_rotated_at = utcnow()
    session.flush()
    _audit(session, integration, "integration.key_rotated", actor)
    logger.info("integration key rotated id=%s", integration.public_id)
    return key


def _audit(
    session: Session, integration: Integration, action: str, actor: str, detail: str = ""
) -> None:
    label = f"{integration.name} ({integration.public_id})"
    workspaces.record(
        session,
        integration.workspace_id,
        action,
        actor,
        detail=f"{label}: {detail}" if detail else label,
    )


def find_by_key(session: Session, key: str) -> Integration | None:
    if not key.startswith(KEY_PREFIX + "_") or len(key) > 200:
        return None
    return session.scalars(
        select(Integration).where(Integration.api_key_hash == hash_key(key))
    ).first()


def _ensure_unique_name(session: Session, workspace_id: int, name: str) -> None:
    exists = session.scalar(
        select(Integration.id).where(
            Integration.workspace_id == workspace_id, Integration.name == name
        )
    )
    if exists is not None:
        raise Conflict(f"An integration named {name!r} already exists.", code="integration_exists")


# ---------------------------------------------------------------------------------------------
# Actions


def list_actions(
    session: Session,
    integration: Integration,
    *,
    type: str | None = None,
    direction: str | None = None,
    domain: str | None = None,
    name: str | None = None,
) -> list[IntegrationAction]:
    """Actions in evaluation order: incoming by type precedence then rank, outgoing after."""
    query = select(IntegrationAction).where(IntegrationAction.integration_id == integration.id)
    if type:
        query = query.where(IntegrationAction.type == type)
    if direction:
        query = query.where(IntegrationAction.direction == direction)
    if domain:
        query = query.where(IntegrationAction.domain == domain)
    if name:
        query = query.where(IntegrationAction.name == name)
    rows = list(session.scalars(query).all())
    rows.sort(key=_evaluation_key)
    return rows


def _evaluation_key(action: IntegrationAction) -> tuple[int, int, str, float, int]:
    outgoing = 1 if action.direction == "outgoing" else 0
    return (outgoing, _TYPE_RANK.get(action.type, 99), action.type, action.rank, action.id)


def get_action(
    session: Session, integration: Integration, public_id: str
) -> IntegrationAction | None:
    if len(public_id) > 64:
        return None
    return session.scalars(
        select(IntegrationAction).where(
            IntegrationAction.integration_id == integration.id,
            IntegrationAction.public_id == public_id,
        )
    ).first()


def require_action(session: Session, integration: Integration, public_id: str) -> IntegrationAction:
    """:raises NotFound: when the integration has no such action."""
    action = get_action(session, integration, public_id)
    if action is None:
        raise NotFound("Integration action does not exist.", code="integration_action_not_found")
    return action


def create_action(
    session: Session,
    integration: Integration,
    data: IntegrationActionCreate,
    *,
    url_check: UrlCheck,
) -> IntegrationAction:
    """Add an action at the end of its type's order.

    :raises ValidationFailed: when ``url_check`` refuses a postToUrl destination, or the
        integration already has the maximum number of actions.
    """
    attributes = data.attributes(url_check)
    count = session.scalar(
        select(func.count()).where(IntegrationAction.integration_id == integration.id)
    )
    if (count or 0) >= MAX_ACTIONS_PER_INTEGRATION:
        raise ValidationFailed(
            f"An integration may have at most {MAX_ACTIONS_PER_INTEGRATION} actions.",
            code="too_many_actions",
        )
    if data.direction == "outgoing":
        outgoing = session.scalar(
            select(func.count())
            .select_from(IntegrationAction)
            .join(Integration, Integration.id == IntegrationAction.integration_id)
            .where(
                Integration.workspace_id == integration.workspace_id,
                IntegrationAction.direction == "outgoing",
            )
        )
        if (outgoing or 0) >= MAX_OUTGOING_ACTIONS_PER_WORKSPACE:
            raise ValidationFailed(
                "A workspace may have at most "
                f"{MAX_OUTGOING_ACTIONS_PER_WORKSPACE} outgoing actions.",
                code="too_many_actions",
            )
    last = session.scalar(
        select(func.max(IntegrationAction.rank)).where(
            IntegrationAction.integration_id == integration.id,
            IntegrationAction.type == data.type,
        )
    )
    action = IntegrationAction(
        integration_id=integration.id, rank=(last or 0.0) + 1.0, **attributes
    )
    session.add(action)
    session.flush()
    return action


def update_action(
    session: Session,
    action: IntegrationAction,
    data: IntegrationActionUpdate,
    *,
    url_check: UrlCheck,
) -> None:
    """:raises ValidationFailed: when a change does not fit the action (its type, direction or
    system conditions), or ``url_check`` refuses a postToUrl destination."""
    changes = data.changes_for(action.type, action.direction, url_check)
    if "filter" in changes:
        _keep_system_conditions(action.filter, changes["filter"])
    for attribute, value in changes.items():
        setattr(action, attribute, value)
    action.updated_at = utcnow()
    session.flush()


def _keep_system_conditions(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """An update may not drop system conditions (they keep default actions working)."""
    for cond in old.get("conditions") or []:
        if not cond.get("systemCondition"):
            continue
        if not any(
            c.get("field") == cond.get("field") and c.get("operation") == cond.get("operation")
            for c in new.get("conditions") or []
        ):
            raise ValidationFailed(
                f"system condition on {cond.get('field')} cannot be removed",
                details={"source": {"pointer": "/filter/conditions"}},
            )


def delete_action(session: Session, action: IntegrationAction) -> None:
    session.delete(action)
    session.flush()


def reorder_action(
    session: Session, integration: Integration, action: IntegrationAction, successor_id: str | None
) -> None:
    """Place ``action`` immediately before ``successor_id``, or last of its type when None.

    Order only matters among actions of one type (the types themselves are evaluated in the
    fixed precedence), so the successor must be of the same type and integration.

    :raises ValidationFailed: when the successor is the action itself or of another type.
    :raises NotFound: when the successor does not exist in this integration.
    """
    siblings = [
        a
        for a in list_actions(session, integration, type=action.type)
        if a.direction == action.direction and a.id != action.id
    ]
    if successor_id is None:
        action.rank = (siblings[-1].rank if siblings else 0.0) + 1.0
        session.flush()
        return
    if successor_id == action.public_id:
        raise ValidationFailed("successorId must name another action.", code="invalid_successor")
    successor = get_action(session, integration, successor_id)
    if successor is None:
        raise NotFound("Successor action does not exist.", code="integration_action_not_found")
    if successor.type != action.type or successor.direction != action.direction:
        raise ValidationFailed(
            f"successorId must name an action of type {action.type}.", code="invalid_successor"
        )
    index = next(i for i, a in enumerate(siblings) if a.id == successor.id)
    before = siblings[index - 1].rank if index > 0 else successor.rank - 2.0
    if successor.rank - before < 1e-6:
        # Ranks got too close after many moves between the same neighbours: spread them out.
        for i, sibling in enumerate(siblings):
            sibling.rank = float(i + 1) * 2.0
        before = siblings[index - 1].rank if index > 0 else 0.0
    action.rank = (before + successor.rank) / 2.0
    session.flush()


def action_spec(action: IntegrationAction) -> ActionSpec:
    """The engine's view of a stored action (filters were validated when stored)."""
    return ActionSpec(
        id=action.public_id,
        name=action.name,
        type=action.type,
        order=action.rank,
        filter=filter_schemas.stored_filter(action.filter),
        field_mappings=action.field_mappings or {},
        type_specific_properties=action.type_specific_properties or {},
        enabled=action.enabled,
    )
