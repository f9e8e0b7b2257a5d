"""Component ↔ Jira project associations, recorded from Jira's ``onEntity(Dis)Associated`` calls.

Callers pass a component they already found within the installation's linked workspaces, so an
installation can never record anything against another site's component.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.connect.models import Installation
from provider.ops.components.models import Component
from provider.ops.components.models import ComponentAssociation
from provider.times import utcnow

logger = logging.getLogger(__name__)

PROJECT_ATI = "ati:cloud:jira:project"


@dataclass(frozen=True, slots=True)
class JiraEntity:
    """The Jira side of an association (``associatedWith`` / ``disassociatedFrom``)."""

    ati: str
    ari: str
    cloud_id: str
    id: str


def jira_entity(raw: Mapping[str, str]) -> JiraEntity:
    """The Jira entity of an action body's (already validated) target object.

    An ARI reads ``ari:cloud:jira:<cloudId>:project/<id>``, so whatever of ``ati``, ``cloudId``
    and ``id`` is missing is taken from it.
    """
    ari = raw.get("ari") or ""
    parts = ari.split(":")
    resource = parts[4] if len(parts) >= 5 else ""
    entity_id = raw.get("id") or (resource.rsplit("/", 1)[-1] if "/" in resource else "")
    cloud_id = raw.get("cloudId") or (parts[3] if len(parts) >= 5 else "")
    ati = raw.get("ati") or (f"ati:cloud:jira:{resource.split('/')[0]}" if resource else "")
    return JiraEntity(ati=ati[:255], ari=ari[:1000], cloud_id=cloud_id[:255], id=entity_id[:255])


def _find(
    session: Session, installation: Installation, component: Component, target: JiraEntity
) -> ComponentAssociation | None:
    return session.scalars(
        select(ComponentAssociation).where(
            ComponentAssociation.installation_id == installation.id,
            ComponentAssociation.component_id == component.id,
            ComponentAssociation.ati == target.ati,
            ComponentAssociation.entity_id == target.id,
        )
    ).first()


def record_association(
    session: Session,
    installation: Installation,
    component: Component,
    target: JiraEntity,
    *,
    user_id: str | None = None,
) -> ComponentAssociation:
    """Record (or refresh) that ``component`` is connected to the Jira entity ``target``."""
    if target.ati != PROJECT_ATI:
        # Jira documents only the issue variant for the component module; keep what it sends.
        logger.info("association with ati=%s", target.ati)
    row = _find(session, installation, component, target)
    if row is None:
        row = ComponentAssociation(
            installation_id=installation.id,
            component_id=component.id,
            ati=target.ati,
            entity_id=target.id,
        )
        session.add(row)
    row.ari = target.ari
    row.cloud_id = target.cloud_id
    row.associated_at = utcnow()
    row.associated_by = user_id[:255] if user_id else None
    session.flush()
    return row


def remove_association(
    session: Session, installation: Installation, component: Component, target: JiraEntity
) -> bool:
    """Forget the association; False when it was not known (Jira may repeat the call)."""
    result = session.execute(
        delete(ComponentAssociation).where(
            ComponentAssociation.installation_id == installation.id,
            ComponentAssociation.component_id == component.id,
            ComponentAssociation.ati == target.ati,
            ComponentAssociation.entity_id == target.id,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def associations_of(
    session: Session, installation: Installation, component: Component
) -> list[ComponentAssociation]:
    return list(
        session.scalars(
            select(ComponentAssociation)
            .where(
                ComponentAssociation.installation_id == installation.id,
                ComponentAssociation.component_id == component.id,
            )
            .order_by(ComponentAssociation.id)
        )
    )
