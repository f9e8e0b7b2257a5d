"""Operating the outbox by hand: status per installation, re-queueing, resuming a paused site."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from provider.connect.models import Installation
from provider.errors import NotFound
from provider.outbox.budget import budget_json
from provider.outbox.budget import ensure_delivery_state
from provider.outbox.models import DeliveryState
from provider.outbox.models import MessageStatus
from provider.outbox.models import OutboxMessage
from provider.outbox.rows import site_in
from provider.times import iso
from provider.times import utcnow


@dataclass(slots=True)
class InstallationStatus:
    client_key: str | None  # None for messages not bound to a site (e.g. webhooks)
    state: str | None = None
    counts: dict[str, int] = field(default_factory=lambda: {s.value: 0 for s in MessageStatus})
    next_attempt_at: datetime | None = None
    not_before: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    paused_at: datetime | None = None
    paused_reason: str | None = None
    unknown_project_keys: list[str] = field(default_factory=list)
    budget: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "clientKey": self.client_key,
            "state": self.state,
            **self.counts,
            "paused": self.paused_at is not None,
            "pausedAt": iso(self.paused_at),
            "pausedReason": self.paused_reason,
            "throttledUntil": iso(self.not_before),
            "nextAttemptAt": iso(self.next_attempt_at),
            "lastSuccessAt": iso(self.last_success_at),
            "lastError": self.last_error,
            "unknownProjectKeys": self.unknown_project_keys,
            "budget": self.budget,
        }


def outbox_status(session: Session, now: datetime | None = None) -> list[InstallationStatus]:
    """One entry per installation (and one for site-less messages, when there are any)."""
    now = now or utcnow()
    out: dict[int | None, InstallationStatus] = {}
    for inst in session.scalars(select(Installation).order_by(Installation.id)):
        out[inst.id] = InstallationStatus(
            client_key=inst.client_key,
            state=inst.state.value,
            paused_at=inst.delivery_paused_at,
            paused_reason=inst.delivery_paused_reason,
            budget=budget_json(None, now),
        )
    for state in session.scalars(select(DeliveryState)):
        entry = out.get(state.installation_id)
        if entry is not None:
            entry.not_before = state.not_before
            entry.last_success_at = state.last_success_at
            entry.last_error = state.last_error
            entry.unknown_project_keys = list(state.unknown_project_keys or [])
            entry.budget = budget_json(state, now)
    rows = session.execute(
        select(
            OutboxMessage.installation_id,
            OutboxMessage.status,
            func.count(),
            func.min(OutboxMessage.next_attempt_at),
        ).group_by(OutboxMessage.installation_id, OutboxMessage.status)
    )
    for installation_id, status, count, next_attempt in rows:
        entry = out.setdefault(installation_id, InstallationStatus(client_key=None))
        entry.counts[str(status)] = count
        if status == MessageStatus.PENDING and next_attempt is not None:
            entry.next_attempt_at = next_attempt
    return list(out.values())


def problems(
    session: Session, installation: Installation, *, limit: int = 50
) -> list[dict[str, Any]]:
    """The installation's messages Jira rejected or that ran out of retries, newest first.

    What the admin page shows next to each entity: Jira's own message.
    """
    rows = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.installation_id == installation.id,
            OutboxMessage.status.in_([MessageStatus.FAILED, MessageStatus.DEAD]),
        )
        .order_by(OutboxMessage.updated_at.desc(), OutboxMessage.id.desc())
        .limit(limit)
    )
    return [
        {
            "kind": m.kind,
            "operation": m.operation,
            "entityId": m.entity_id,
            "workspaceId": m.group_key or None,
            "status": str(m.status),
            "attempts": m.attempts,
            "error": m.last_error,
            "updatedAt": iso(m.updated_at),
        }
        for m in rows
    ]


def require_installation(session: Session, client_key: str) -> Installation:
    """:raises NotFound: when no installation has this client key."""
    inst = session.scalars(
        select(Installation).where(Installation.client_key == client_key)
    ).first()
    if inst is None:
        raise NotFound(f"no installation with client key {client_key!r}")
    return inst


def requeue(
    session: Session,
    *,
    installation: Installation | None = None,
    statuses: tuple[MessageStatus, ...] = (MessageStatus.DEAD, MessageStatus.FAILED),
) -> int:
    """Make failed/dead messages pending again (fresh attempts); returns how many.

    A message whose entity already has a newer pending change is dropped instead: the newer
    change is what Jira should get.
    """
    query = select(OutboxMessage).where(OutboxMessage.status.in_(statuses))
    if installation is not None:
        query = query.where(OutboxMessage.installation_id == installation.id)
    count = 0
    for message in session.scalars(query.order_by(OutboxMessage.id.desc()).with_for_update()):
        newer = session.scalar(
            select(OutboxMessage.id).where(
                OutboxMessage.installation_id.is_(None)
                if message.installation_id is None
                else OutboxMessage.installation_id == message.installation_id,
                OutboxMessage.kind == message.kind,
                OutboxMessage.entity_id == message.entity_id,
                OutboxMessage.status == MessageStatus.PENDING,
            )
        )
        if newer is not None:
            session.delete(message)
            continue
        message.status = MessageStatus.PENDING
        message.attempts = 0
        message.next_attempt_at = None
        message.claimed_until = None
        message.claimed_by = None
        session.flush()
        count += 1
    return count


def resume(session: Session, installation: Installation) -> None:
    """Clear a delivery pause and any throttle, so the worker sends to the site again."""
    installation.delivery_paused_at = None
    installation.delivery_paused_reason = None
    state = ensure_delivery_state(session, installation.id)
    state.not_before = None
    state.throttle_count = 0
    session.execute(
        update(OutboxMessage)
        .where(site_in(installation.id, MessageStatus.PENDING))
        .values(next_attempt_at=None)
    )
    session.flush()
