"""Enqueue pushes in the caller's transaction (the transactional outbox)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from provider.outbox.models import MessageStatus
from provider.outbox.models import OutboxMessage
from provider.times import utcnow


def enqueue(
    session: Session,
    *,
    installation_id: int | None,
    kind: str,
    operation: str,
    entity_id: str,
    payload: dict[str, Any],
    group_key: str = "",
) -> OutboxMessage:
    """Record a push to be made by the worker, replacing a pending one for the same entity.

    Does not commit: the message becomes visible together with the change that caused it.
    """
    for _attempt in range(3):
        pending = _pending(session, installation_id, kind, entity_id)
        if pending is not None:
            pending.operation = operation
            pending.payload = payload
            pending.group_key = group_key
            pending.attempts = 0
            pending.last_error = None
            pending.next_attempt_at = None
            pending.updated_at = utcnow()
            return pending
        message = OutboxMessage(
            installation_id=installation_id,
            kind=kind,
            operation=operation,
            entity_id=entity_id,
            group_key=group_key,
            payload=payload,
            status=MessageStatus.PENDING,
        )
        try:
            # A worker may put its in-flight copy of this entity back to pending at this very
            # moment; the partial unique index then refuses one of the two rows. In a savepoint
            # the refusal costs nothing: the next pass finds that row and updates it instead.
            with session.begin_nested():
                session.add(message)
        except IntegrityError:
            continue
        return message
    raise RuntimeError(f"could not enqueue {kind} {entity_id}: the pending row kept changing")


def _pending(
    session: Session, installation_id: int | None, kind: str, entity_id: str
) -> OutboxMessage | None:
    return session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.installation_id.is_(None)
            if installation_id is None
            else OutboxMessage.installation_id == installation_id,
            OutboxMessage.kind == kind,
            OutboxMessage.entity_id == entity_id,
            OutboxMessage.status == MessageStatus.PENDING,
        )
        .with_for_update()
    ).first()
