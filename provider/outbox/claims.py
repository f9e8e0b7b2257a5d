"""Step 1 of the outbox worker (see ``provider.outbox.worker``): claim a batch under a lease.

Also the rest of a lease's life: renewing it while the halves of a split batch are sent, and
taking back leases whose worker died. On PostgreSQL a transaction-scoped advisory lock per
installation arbitrates between workers claiming at once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import cast

from sqlalchemy import ColumnElement
from sqlalchemy import CursorResult
from sqlalchemy import Result
from sqlalchemy import Row
from sqlalchemy import Select
from sqlalchemy import and_
from sqlalchemy import delete
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm import aliased
from sqlalchemy.orm import sessionmaker

from provider.connect.models import Installation
from provider.outbox.budget import Pacing
from provider.outbox.budget import note_claim
from provider.outbox.budget import old_enough
from provider.outbox.budget import points_available
from provider.outbox.budget import settled
from provider.outbox.budget import site_due
from provider.outbox.handlers import Batch
from provider.outbox.handlers import Envelope
from provider.outbox.handlers import KindSpec
from provider.outbox.models import DeliveryState
from provider.outbox.models import MessageStatus
from provider.outbox.models import OutboxMessage
from provider.outbox.rows import chunks
from provider.outbox.rows import installation_is
from provider.outbox.rows import site_in

logger = logging.getLogger(__name__)

MAX_CLAIM_CANDIDATES = 20  # sites tried per claim before reporting idle
# Namespaces the advisory locks of outbox claims (two-key form: class, installation id).
ADVISORY_LOCK_CLASS = 0x0B0C


@dataclass(slots=True)
class Claim:
    token: str
    batch: Batch
    installation: Installation | None


def reclaim_expired(session_factory: sessionmaker[Session], now: datetime) -> int:
    """Make messages whose lease expired claimable again; drop those a newer change replaced."""
    newer = aliased(OutboxMessage)
    # Ids grow with every enqueue, so any later row of the entity is a newer change; re-sending
    # the expired older one could undo it (a stale submit after a delete re-creates the entity).
    superseded = exists().where(_same_entity(newer, OutboxMessage), newer.id > OutboxMessage.id)
    expired = and_(OutboxMessage.status == MessageStatus.SENDING, OutboxMessage.claimed_until < now)
    with session_factory.begin() as session:
        if session.scalar(select(OutboxMessage.id).where(expired).limit(1)) is None:
            return 0
    try:
        with session_factory.begin() as session:
            dropped = _rowcount(
                session.execute(
                    delete(OutboxMessage)
                    .where(expired, superseded)
                    .execution_options(synchronize_session=False)
                )
            )
            released = _rowcount(
                session.execute(
                    update(OutboxMessage)
                    .where(expired, ~superseded)
                    .values(status=MessageStatus.PENDING, claimed_until=None, claimed_by=None)
                    .execution_options(synchronize_session=False)
                )
            )
    except IntegrityError:
        # A change of the same entity was enqueued between the two statements; the next
        # pass drops the expired row instead.
        logger.info("reclaim raced with an enqueue; retrying on the next pass")
        return 0
    if dropped or released:
        logger.warning(
            "outbox leases expired: %s messages released, %s superseded", released, dropped
        )
    return (dropped or 0) + (released or 0)


def claim(
    session_factory: sessionmaker[Session],
    handlers: Mapping[str, KindSpec],
    now: datetime,
    *,
    batch_size: int,
    lease_seconds: float,
    pacing: Pacing | None = None,
) -> Claim | None:
    """Claim the next batch under a lease and commit; ``None`` when nothing is claimable.

    One batch per installation is in flight at a time: Jira's rate limits are per site, and a
    second request racing a 429 would arrive before the ``Retry-After`` it never saw. A site
    is sent batches at the pace of ``pacing`` and, near its points quota, only urgent kinds
    (``provider.outbox.budget``).
    """
    pacing = pacing or Pacing()
    with session_factory.begin() as session:
        # Sites with a batch in flight are few; excluding them by value keeps the head query
        # a plain index scan instead of a per-row anti-join over the whole backlog.
        skipped: list[int] = list(
            session.scalars(
                select(OutboxMessage.installation_id)
                .where(
                    OutboxMessage.status == MessageStatus.SENDING,
                    OutboxMessage.claimed_until >= now,
                    OutboxMessage.installation_id.is_not(None),
                )
                .distinct()
            )
        )
        settling: list[tuple[int, str]] = []
        for _ in range(MAX_CLAIM_CANDIDATES):
            head = _head(session, handlers, now, skipped, settling, pacing)
            if head is None:
                return None
            installation_id, kind, operation, group_key, oldest = head
            spec = handlers[kind]
            if (
                installation_id is not None
                and spec.needs_jira
                and not spec.urgent
                and not settled(session, installation_id, kind, oldest, now, pacing)
            ):
                settling.append((installation_id, kind))
                continue
            if installation_id is not None and not _take_site(session, installation_id, now):
                skipped.append(installation_id)
                continue
            claimed = _claim_group(
                session,
                handlers,
                now,
                installation_id,
                kind,
                operation,
                group_key,
                batch_size=batch_size,
                lease_seconds=lease_seconds,
            )
            if (
                claimed is not None
                and installation_id is not None
                and handlers[claimed.batch.kind].needs_jira
            ):
                note_claim(session, installation_id, now, pacing)
            return claimed
    return None


def renew_lease(
    session_factory: sessionmaker[Session],
    token: str,
    messages: Sequence[Envelope],
    lease: datetime,
) -> None:
    """Extend the lease of the ``messages`` still claimed by ``token`` until ``lease``."""
    with session_factory.begin() as session:
        for chunk in chunks([m.id for m in messages]):
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(chunk), OutboxMessage.claimed_by == token)
                .values(claimed_until=lease)
                .execution_options(synchronize_session=False)
            )


def _head(
    session: Session,
    handlers: Mapping[str, KindSpec],
    now: datetime,
    skipped: list[int],
    settling: list[tuple[int, str]],
    pacing: Pacing,
) -> Row[int | None, str, str, str, datetime] | None:
    """The oldest claimable message of the most urgent kind, outside the ``skipped`` sites
    and the (site, kind) pairs still ``settling``.

    One query per kind, in priority order: ``ORDER BY id LIMIT 1`` within a kind walks the
    queue index and stops at the first row, where ordering by priority across kinds would
    sort the whole backlog on every claim.
    """
    query = _claimable(handlers, now, pacing)
    if skipped:
        query = query.where(
            or_(
                OutboxMessage.installation_id.is_(None),
                OutboxMessage.installation_id.not_in(skipped),
            )
        )
    for site, kind in settling:
        query = query.where(or_(OutboxMessage.installation_id != site, OutboxMessage.kind != kind))
    for kind in sorted(handlers, key=lambda k: handlers[k].priority):
        head = session.execute(
            query.where(OutboxMessage.kind == kind)
            .with_only_columns(
                OutboxMessage.installation_id,
                OutboxMessage.kind,
                OutboxMessage.operation,
                OutboxMessage.group_key,
                OutboxMessage.created_at,
            )
            .order_by(OutboxMessage.id)
            .limit(1)
            # No row lock here: a locked head row would be skipped by another worker's
            # group claim and split its batch; the site lock arbitrates instead.
        ).first()
        if head is not None:
            return head
    return None


def _take_site(session: Session, installation_id: int, now: datetime) -> bool:
    """Serialize claims per installation, then check that none of its batches is in flight.

    On PostgreSQL a transaction-scoped advisory lock makes the check and the claim atomic
    across workers (a worker that cannot take it moves on to another site); SQLite already
    serializes every transaction (``BEGIN IMMEDIATE``).
    """
    if session.get_bind().dialect.name == "postgresql":
        locked = session.scalar(
            select(func.pg_try_advisory_xact_lock(ADVISORY_LOCK_CLASS, installation_id))
        )
        if not locked:
            return False
    in_flight = session.scalar(
        select(OutboxMessage.id)
        .where(site_in(installation_id, MessageStatus.SENDING), OutboxMessage.claimed_until >= now)
        .limit(1)
    )
    return in_flight is None


def _claim_group(
    session: Session,
    handlers: Mapping[str, KindSpec],
    now: datetime,
    installation_id: int | None,
    kind: str,
    operation: str,
    group_key: str,
    *,
    batch_size: int,
    lease_seconds: float,
) -> Claim | None:
    spec = handlers[kind]
    limit = spec.batch_limit(operation, batch_size)
    if installation_id is None:
        candidates = _claimable(handlers, now, Pacing())
    else:
        # _take_site saw no batch of this site in flight, under the site lock, and the head
        # query checked that the site is deliverable: the group needs no per-row anti-join
        # (which, over a large backlog, made PostgreSQL spend seconds on every claim).
        candidates = select(OutboxMessage).where(
            OutboxMessage.status == MessageStatus.PENDING,
            or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now),
        )
    rows = list(
        session.scalars(
            candidates.where(
                installation_is(installation_id),
                OutboxMessage.kind == kind,
                OutboxMessage.operation == operation,
                OutboxMessage.group_key == group_key,
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=OutboxMessage)
        )
    )
    if not rows:
        return None
    token = uuid.uuid4().hex
    lease = now + timedelta(seconds=lease_seconds)
    for chunk in chunks([r.id for r in rows]):
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(chunk))
            .values(status=MessageStatus.SENDING, claimed_until=lease, claimed_by=token)
            .execution_options(synchronize_session=False)
        )
    installation = (
        session.get(Installation, installation_id) if installation_id is not None else None
    )
    batch = Batch(
        installation_id=installation_id,
        kind=kind,
        operation=operation,
        group_key=group_key,
        messages=[Envelope(r.id, r.entity_id, dict(r.payload)) for r in rows],
    )
    return Claim(token=token, batch=batch, installation=installation)


def _claimable(handlers: Mapping[str, KindSpec], now: datetime, pacing: Pacing) -> Select[Any]:
    in_flight = aliased(OutboxMessage)
    busy = exists().where(
        _same_entity(in_flight, OutboxMessage),
        in_flight.status == MessageStatus.SENDING,
        in_flight.claimed_until >= now,
    )
    deliverable_site = and_(
        Installation.installed.is_(True),
        Installation.enabled.is_(True),
        Installation.delivery_paused_at.is_(None),
        or_(DeliveryState.not_before.is_(None), DeliveryState.not_before <= now),
    )
    jira_kinds = [k for k, s in handlers.items() if s.needs_jira]
    urgent = [k for k, s in handlers.items() if s.needs_jira and s.urgent]
    other_kinds = [k for k, s in handlers.items() if not s.needs_jira]
    return (
        select(OutboxMessage)
        .outerjoin(Installation, Installation.id == OutboxMessage.installation_id)
        .outerjoin(DeliveryState, DeliveryState.installation_id == OutboxMessage.installation_id)
        .where(
            OutboxMessage.status == MessageStatus.PENDING,
            or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now),
            or_(
                and_(
                    OutboxMessage.kind.in_(jira_kinds),
                    deliverable_site,
                    site_due(now, pacing),
                    or_(
                        OutboxMessage.kind.in_(urgent),
                        and_(points_available(now), old_enough(now, pacing)),
                    ),
                ),
                and_(
                    OutboxMessage.kind.in_(other_kinds),
                    or_(OutboxMessage.installation_id.is_(None), deliverable_site),
                ),
            ),
            # (a site with a batch in flight is excluded by the caller: claim, _take_site)
            ~busy,
        )
    )


def _same_entity(a: Any, b: Any) -> ColumnElement[bool]:
    return and_(
        a.id != b.id,
        or_(
            a.installation_id == b.installation_id,
            and_(a.installation_id.is_(None), b.installation_id.is_(None)),
        ),
        a.kind == b.kind,
        a.entity_id == b.entity_id,
    )


def _rowcount(result: Result[*tuple[Any, ...]]) -> int:
    # Session.execute is typed for any statement; for an UPDATE or DELETE without RETURNING it
    # returns a CursorResult, which alone carries the count.
    return cast("CursorResult[*tuple[Any, ...]]", result).rowcount
