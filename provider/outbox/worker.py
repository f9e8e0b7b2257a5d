"""The outbox worker: claim a batch under a lease, send it, record what Jira said.

Each batch goes through three steps so that a crash at any point loses nothing:

1. a short transaction claims up to ``batch_size`` pending messages of one
   (installation, kind, operation, group) and marks them ``sending`` with a lease
   (``claimed_until``, ``claimed_by``), then commits;
2. the HTTP call(s), outside any transaction;
3. a second short transaction records the outcome, touching only rows this batch still holds.

A worker killed between 1 and 3 leaves ``sending`` rows whose lease expires; they become
``pending`` again (or are dropped when a newer pending change of the same entity exists). A
change enqueued while an older version is in flight is a new ``pending`` row, which is not
claimed while the older one's lease is alive, so one entity is never in two concurrent batches
and an older completion never overwrites a newer change. On PostgreSQL claims use
``FOR UPDATE SKIP LOCKED`` so any number of workers can run; on SQLite every transaction starts
with ``BEGIN IMMEDIATE`` (see ``provider.db``), which serializes claims.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import uuid
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement
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

from provider.config import Settings
from provider.connect.http import HostSessions
from provider.connect.http import HttpOptions
from provider.connect.http import JiraError
from provider.connect.models import Installation
from provider.crypto import SecretBox
from provider.jira.client import HttpJiraClient
from provider.jira.client import JiraClient
from provider.logging import client_key_var
from provider.outbox.handlers import HANDLERS
from provider.outbox.handlers import Batch
from provider.outbox.handlers import Envelope
from provider.outbox.handlers import KindSpec
from provider.outbox.handlers import Outcome
from provider.outbox.models import DeliveryState
from provider.outbox.models import MessageStatus
from provider.outbox.models import OutboxMessage
from provider.outbox.retry import Action
from provider.outbox.retry import Decision
from provider.outbox.retry import RetryPolicy
from provider.outbox.retry import classify
from provider.times import utcnow

logger = logging.getLogger(__name__)

ClientFactory = Callable[[Installation], JiraClient]
MAX_UNKNOWN_PROJECT_KEYS = 100
MAX_CLAIM_CANDIDATES = 20  # sites tried per claim before reporting idle
# Namespaces the advisory locks of outbox claims (two-key form: class, installation id).
ADVISORY_LOCK_CLASS = 0x0B0C
_CHUNK = 500  # ids per IN (...) clause, well under every backend's parameter limit


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    batch_size: int = 1000
    lease_seconds: float = 300.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    idle_sleep_min: float = 0.05
    idle_sleep_max: float = 1.0


class ClientUnavailable(Exception):
    """No Jira client can be built for an installation (e.g. its secret cannot be decrypted)."""


def make_client_factory(
    settings: Settings, config: WorkerConfig | None = None, sessions: HostSessions | None = None
) -> ClientFactory:
    """Build signed Jira clients from stored installations (the production factory)."""
    config = config or WorkerConfig()
    box = SecretBox(settings.secret_key)
    pool = sessions or HostSessions()
    options = HttpOptions(connect_timeout=config.connect_timeout, read_timeout=config.read_timeout)
    product = settings.app_key

    def factory(installation: Installation) -> JiraClient:
        try:
            secret = box.decrypt(installation.shared_secret_encrypted)
        except ValueError as e:
            raise ClientUnavailable(str(e)) from None
        return HttpJiraClient(
            base_url=installation.base_url,
            shared_secret=secret,
            app_key=settings.app_key,
            sessions=pool,
            options=options,
            product=product,
        )

    return factory


@dataclass(slots=True)
class _Claim:
    token: str
    batch: Batch
    installation: Installation | None


@dataclass(slots=True)
class _Part:
    """A slice of a batch and what happened to it: an outcome, or a decision about a failure."""

    messages: Sequence[Envelope]
    outcome: Outcome | None = None
    decision: Decision | None = None


class OutboxWorker:
    """Drains the outbox one batch at a time; safe to run in several processes on PostgreSQL."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        client_factory: ClientFactory,
        *,
        config: WorkerConfig | None = None,
        handlers: dict[str, KindSpec] | None = None,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.client_factory = client_factory
        self.config = config or WorkerConfig()
        self.handlers = HANDLERS if handlers is None else handlers
        self.clock = clock
        self.rng = rng or random.Random()
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"

    # ── public ─────────────────────────────────────────────────────────────────────────────────

    def drain_once(self) -> int:
        """Claim, send and record one batch; return how many messages it handled (0: idle)."""
        self.reclaim_expired()
        claim = self.claim()
        if claim is None:
            return 0
        token = client_key_var.set(
            claim.installation.client_key if claim.installation is not None else "-"
        )
        try:
            parts = self._deliver(claim)
            self._record(claim, parts)
        finally:
            client_key_var.reset(token)
        return len(claim.batch.messages)

    def drain(self, max_batches: int | None = None) -> int:
        """Run batches until nothing is claimable (or ``max_batches``); return messages handled."""
        total = batches = 0
        while max_batches is None or batches < max_batches:
            handled = self.drain_once()
            if handled == 0:
                break
            total += handled
            batches += 1
        return total

    # ── step 0: expired leases ─────────────────────────────────────────────────────────────────

    def reclaim_expired(self) -> int:
        """Make messages whose lease expired claimable again; drop those a newer change replaced."""
        now = self.clock()
        newer = aliased(OutboxMessage)
        # Ids grow with every enqueue, so any later row of the entity is a newer change; re-sending
        # the expired older one could undo it (a stale submit after a delete re-creates the entity).
        superseded = exists().where(_same_entity(newer, OutboxMessage), newer.id > OutboxMessage.id)
        expired = and_(
            OutboxMessage.status == MessageStatus.SENDING, OutboxMessage.claimed_until < now
        )
        with self.session_factory.begin() as session:
            if session.scalar(select(OutboxMessage.id).where(expired).limit(1)) is None:
                return 0
        try:
            with self.session_factory.begin() as session:
                dropped = session.execute(
                    delete(OutboxMessage)
                    .where(expired, superseded)
                    .execution_options(synchronize_session=False)
                ).rowcount
                released = session.execute(
                    update(OutboxMessage)
                    .where(expired, ~superseded)
                    .values(status=MessageStatus.PENDING, claimed_until=None, claimed_by=None)
                    .execution_options(synchronize_session=False)
                ).rowcount
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

    # ── step 1: claim ──────────────────────────────────────────────────────────────────────────

    def claim(self) -> _Claim | None:
        """Claim the next batch under a lease and commit; ``None`` when nothing is claimable.

        One batch per installation is in flight at a time: Jira's rate limits are per site, and a
        second request racing a 429 would arrive before the ``Retry-After`` it never saw.
        """
        now = self.clock()
        with self.session_factory.begin() as session:
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
            for _ in range(MAX_CLAIM_CANDIDATES):
                head = self._head(session, now, skipped)
                if head is None:
                    return None
                installation_id = head[0]
                if installation_id is not None and not self._take_site(
                    session, installation_id, now
                ):
                    skipped.append(installation_id)
                    continue
                return self._claim_group(session, now, *head)
        return None

    def _head(self, session: Session, now: datetime, skipped: list[int]) -> Row[Any] | None:
        """The oldest claimable message of the most urgent kind, outside the ``skipped`` sites.

        One query per kind, in priority order: ``ORDER BY id LIMIT 1`` within a kind walks the
        queue index and stops at the first row, where ordering by priority across kinds would
        sort the whole backlog on every claim.
        """
        query = self._claimable(now)
        if skipped:
            query = query.where(
                or_(
                    OutboxMessage.installation_id.is_(None),
                    OutboxMessage.installation_id.not_in(skipped),
                )
            )
        for kind in sorted(self.handlers, key=lambda k: self.handlers[k].priority):
            head = session.execute(
                query.where(OutboxMessage.kind == kind)
                .with_only_columns(
                    OutboxMessage.installation_id,
                    OutboxMessage.kind,
                    OutboxMessage.operation,
                    OutboxMessage.group_key,
                )
                .order_by(OutboxMessage.id)
                .limit(1)
                # No row lock here: a locked head row would be skipped by another worker's
                # group claim and split its batch; the site lock arbitrates instead.
            ).first()
            if head is not None:
                return head
        return None

    def _take_site(self, session: Session, installation_id: int, now: datetime) -> bool:
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
            .where(
                OutboxMessage.installation_id == installation_id,
                OutboxMessage.status == MessageStatus.SENDING,
                OutboxMessage.claimed_until >= now,
            )
            .limit(1)
        )
        return in_flight is None

    def _claim_group(
        self,
        session: Session,
        now: datetime,
        installation_id: int | None,
        kind: str,
        operation: str,
        group_key: str,
    ) -> _Claim | None:
        spec = self.handlers[kind]
        limit = spec.batch_limit(operation, self.config.batch_size)
        if installation_id is None:
            candidates = self._claimable(now)
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
                    _installation_is(installation_id),
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
        lease = now + timedelta(seconds=self.config.lease_seconds)
        for chunk in _chunks([r.id for r in rows]):
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
        return _Claim(token=token, batch=batch, installation=installation)

    def _claimable(self, now: datetime) -> Select[Any]:
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
        jira_kinds = [k for k, s in self.handlers.items() if s.needs_jira]
        other_kinds = [k for k, s in self.handlers.items() if not s.needs_jira]
        return (
            select(OutboxMessage)
            .outerjoin(Installation, Installation.id == OutboxMessage.installation_id)
            .outerjoin(
                DeliveryState, DeliveryState.installation_id == OutboxMessage.installation_id
            )
            .where(
                OutboxMessage.status == MessageStatus.PENDING,
                or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now),
                or_(
                    and_(OutboxMessage.kind.in_(jira_kinds), deliverable_site),
                    and_(
                        OutboxMessage.kind.in_(other_kinds),
                        or_(OutboxMessage.installation_id.is_(None), deliverable_site),
                    ),
                ),
                # (a site with a batch in flight is excluded by the caller: claim, _take_site)
                ~busy,
            )
        )

    # ── step 2: send ───────────────────────────────────────────────────────────────────────────

    def _deliver(self, claim: _Claim) -> list[_Part]:
        spec = self.handlers[claim.batch.kind]
        client: JiraClient | None = None
        if spec.needs_jira:
            if claim.installation is None:
                return [_Part(claim.batch.messages, decision=_fail("no installation"))]
            try:
                client = self.client_factory(claim.installation)
            except ClientUnavailable as e:
                return [_Part(claim.batch.messages, decision=Decision(Action.PAUSE, str(e)))]
        return self._send(spec, claim.batch, client, claim.token, first=True)

    def _send(
        self,
        spec: KindSpec,
        batch: Batch,
        client: JiraClient | None,
        token: str,
        *,
        first: bool = False,
    ) -> list[_Part]:
        if not first:
            self._renew_lease(token, batch.messages)
        try:
            outcome = spec.handler(batch, client)
        except JiraError as e:
            decision = classify(e)
        except ValueError as e:
            # A payload or batch this app built wrongly: retrying cannot help.
            logger.error("outbox batch rejected before sending kind=%s: %s", batch.kind, e)
            decision = _fail(str(e))
        except Exception as e:
            # Anything else (a handler of another kind, a bug) backs off and dead-letters after
            # the bound instead of leaving the rows to a lease expiry, over and over.
            logger.exception("outbox handler failed kind=%s", batch.kind)
            decision = Decision(Action.RETRY, f"{type(e).__name__}: {e}"[:1000])
        else:
            return [_Part(batch.messages, outcome=outcome)]
        if decision.action is Action.SPLIT:
            if len(batch.messages) == 1:
                return [_Part(batch.messages, decision=_fail(decision.reason))]
            half = len(batch.messages) // 2
            logger.info("jira said 413; splitting %s messages", len(batch.messages))
            parts = self._send(spec, batch.with_messages(batch.messages[:half]), client, token)
            halt = next(
                (
                    p.decision
                    for p in parts
                    if p.decision and p.decision.action in (Action.THROTTLE, Action.PAUSE)
                ),
                None,
            )
            if halt is not None:
                # The site asked us to stop; the second half waits with the first.
                return [*parts, _Part(batch.messages[half:], decision=halt)]
            return parts + self._send(
                spec, batch.with_messages(batch.messages[half:]), client, token
            )
        return [_Part(batch.messages, decision=decision)]

    def _renew_lease(self, token: str, messages: Sequence[Envelope]) -> None:
        lease = self.clock() + timedelta(seconds=self.config.lease_seconds)
        with self.session_factory.begin() as session:
            for chunk in _chunks([m.id for m in messages]):
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_(chunk), OutboxMessage.claimed_by == token)
                    .values(claimed_until=lease)
                    .execution_options(synchronize_session=False)
                )

    # ── step 3: record ─────────────────────────────────────────────────────────────────────────

    def _record(self, claim: _Claim, parts: list[_Part]) -> None:
        for attempt in range(3):
            try:
                with self.session_factory.begin() as session:
                    self._record_in(session, claim, parts)
                return
            except IntegrityError:
                # An enqueue of the same entity slipped in while releasing; the next try sees it.
                if attempt == 2:
                    raise
                logger.info("recording raced with an enqueue; retrying")

    def _record_in(self, session: Session, claim: _Claim, parts: list[_Part]) -> None:
        now = self.clock()
        batch = claim.batch
        state = self._state(session, batch.installation_id)
        for part in parts:
            held = self._held(session, claim.token, part.messages)
            if not held:
                continue
            if part.outcome is not None:
                self._record_outcome(session, batch, held, part.outcome, state, now)
                continue
            decision = part.decision
            assert decision is not None  # noqa: S101 - a part has an outcome or a decision
            if state is None and decision.action in (Action.THROTTLE, Action.PAUSE):
                # No site to hold back or pause (a message not bound to an installation).
                decision = Decision(Action.RETRY, decision.reason)
            if decision.action is Action.THROTTLE:
                self._release(session, held)
                if state is not None:  # always, after the rewrite above
                    state.throttle_count += 1
                    delay = self.config.retry.throttle_delay(
                        decision.retry_after, state.throttle_count, self.rng
                    )
                    state.not_before = now + timedelta(seconds=delay)
                    state.last_error, state.last_error_at = decision.reason, now
                    logger.warning(
                        "jira throttled installation_id=%s; holding it for %.1fs (%s)",
                        batch.installation_id,
                        delay,
                        decision.reason,
                    )
            elif decision.action is Action.PAUSE:
                self._release(session, held)
                self._pause(session, batch.installation_id, decision.reason, now)
            elif decision.action is Action.RETRY:
                self._retry(session, held, decision.reason, now)
                if state is not None:
                    state.last_error, state.last_error_at = decision.reason, now
            else:
                for message in held:
                    _mark_failed(message, decision.reason)
                if state is not None:
                    state.last_error, state.last_error_at = decision.reason, now
                logger.warning(
                    "jira rejected a batch of %s %s messages: %s",
                    len(held),
                    batch.kind,
                    decision.reason,
                )

    def _record_outcome(
        self,
        session: Session,
        batch: Batch,
        held: list[OutboxMessage],
        outcome: Outcome,
        state: DeliveryState | None,
        now: datetime,
    ) -> None:
        done = [m for m in held if m.entity_id not in outcome.failed]
        for message in held:
            if message.entity_id in outcome.failed:
                _mark_failed(message, outcome.failed[message.entity_id])
        if outcome.failed:
            logger.warning(
                "jira rejected %s of %s %s entities; first: %s",
                len(outcome.failed),
                len(held),
                batch.kind,
                next(iter(outcome.failed.values())),
            )
        for message in done:
            session.delete(message)
        session.flush()
        # An older version that failed or was dead-lettered is superseded by this delivery.
        done_ids = [m.entity_id for m in done]
        for chunk in _chunks(done_ids):
            session.execute(
                delete(OutboxMessage)
                .where(
                    _installation_is(batch.installation_id),
                    OutboxMessage.kind == batch.kind,
                    OutboxMessage.entity_id.in_(chunk),
                    OutboxMessage.status.in_([MessageStatus.FAILED, MessageStatus.DEAD]),
                )
                .execution_options(synchronize_session=False)
            )
        if state is not None:
            state.last_success_at = now
            state.throttle_count = 0
            if outcome.unknown_project_keys:
                keys = list(
                    dict.fromkeys([*outcome.unknown_project_keys, *state.unknown_project_keys])
                )
                state.unknown_project_keys = keys[:MAX_UNKNOWN_PROJECT_KEYS]

    def _held(
        self, session: Session, token: str, messages: Sequence[Envelope]
    ) -> list[OutboxMessage]:
        """The rows of ``messages`` this batch still holds (a lost lease means hands off)."""
        held: list[OutboxMessage] = []
        for chunk in _chunks([m.id for m in messages]):
            held.extend(
                session.scalars(
                    select(OutboxMessage)
                    .where(
                        OutboxMessage.id.in_(chunk),
                        OutboxMessage.claimed_by == token,
                        OutboxMessage.status == MessageStatus.SENDING,
                    )
                    .order_by(OutboxMessage.id)
                    .with_for_update()
                )
            )
        lost = len(messages) - len(held)
        if lost:
            logger.warning("%s messages were reclaimed while in flight; leaving them alone", lost)
        return held

    def _release(
        self,
        session: Session,
        messages: Iterable[OutboxMessage],
        *,
        next_attempt_at: datetime | None = None,
    ) -> None:
        """Put messages back to ``pending``, unless a newer pending change replaced them."""
        messages = list(messages)
        superseded = self._with_pending_sibling(session, messages)
        for message in messages:
            if message.entity_id in superseded:
                session.delete(message)
                continue
            try:
                # An enqueue of a newer change may commit between the check above and this
                # write; the unique index then refuses ours, and the newer change wins.
                with session.begin_nested():
                    message.status = MessageStatus.PENDING
                    message.claimed_until = None
                    message.claimed_by = None
                    if next_attempt_at is not None:
                        message.next_attempt_at = next_attempt_at
            except IntegrityError:
                session.delete(message)
        session.flush()

    def _retry(
        self, session: Session, messages: list[OutboxMessage], reason: str, now: datetime
    ) -> None:
        policy = self.config.retry
        retry: list[OutboxMessage] = []
        for message in messages:
            message.attempts += 1
            message.last_error = reason
            if message.attempts >= policy.max_attempts:
                message.status = MessageStatus.DEAD
                message.claimed_until = None
                message.claimed_by = None
                logger.error(
                    "outbox message dead-lettered id=%s kind=%s entity=%s after %s attempts: %s",
                    message.id,
                    message.kind,
                    message.entity_id,
                    message.attempts,
                    reason,
                )
            else:
                retry.append(message)
        if retry:
            attempt = max(m.attempts for m in retry)
            delay = policy.backoff(attempt, self.rng)
            self._release(session, retry, next_attempt_at=now + timedelta(seconds=delay))

    def _with_pending_sibling(self, session: Session, messages: list[OutboxMessage]) -> set[str]:
        if not messages:
            return set()
        first = messages[0]
        found: set[str] = set()
        for chunk in _chunks([m.entity_id for m in messages]):
            found.update(
                session.scalars(
                    select(OutboxMessage.entity_id).where(
                        _installation_is(first.installation_id),
                        OutboxMessage.kind == first.kind,
                        OutboxMessage.entity_id.in_(chunk),
                        OutboxMessage.status == MessageStatus.PENDING,
                    )
                )
            )
        return found

    def _state(self, session: Session, installation_id: int | None) -> DeliveryState | None:
        if installation_id is None:
            return None
        return ensure_delivery_state(session, installation_id)

    def _pause(
        self, session: Session, installation_id: int | None, reason: str, now: datetime
    ) -> None:
        if installation_id is None:
            return
        installation = session.get(Installation, installation_id, with_for_update=True)
        if installation is None or installation.delivery_paused_at is not None:
            return
        installation.delivery_paused_at = now
        installation.delivery_paused_reason = reason[:1000]
        logger.error(
            "delivery paused client_key=%s: %s; it resumes on a verified re-install or "
            "`provider outbox resume --client-key %s`",
            installation.client_key,
            reason,
            installation.client_key,
        )


def ensure_delivery_state(session: Session, installation_id: int) -> DeliveryState:
    """The installation's delivery state row, created on first use."""
    state = session.scalars(
        select(DeliveryState).where(DeliveryState.installation_id == installation_id)
    ).first()
    if state is None:
        try:
            with session.begin_nested():
                state = DeliveryState(installation_id=installation_id, unknown_project_keys=[])
                session.add(state)
                session.flush()
        except IntegrityError:  # another worker created it first
            state = session.scalars(
                select(DeliveryState).where(DeliveryState.installation_id == installation_id)
            ).one()
    return state


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


def _installation_is(installation_id: int | None) -> ColumnElement[bool]:
    if installation_id is None:
        return OutboxMessage.installation_id.is_(None)
    return OutboxMessage.installation_id == installation_id


def _mark_failed(message: OutboxMessage, reason: str) -> None:
    message.status = MessageStatus.FAILED
    message.last_error = reason[:2000]
    message.claimed_until = None
    message.claimed_by = None


def _fail(reason: str) -> Decision:
    return Decision(Action.FAIL, reason)


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# ── the worker process loop ────────────────────────────────────────────────────────────────────

Tick = Callable[[], int]


def run_loop(
    ticks: Sequence[Tick],
    stop: threading.Event,
    *,
    idle_sleep_min: float = 0.05,
    idle_sleep_max: float = 1.0,
) -> None:
    """Call each tick in turn until ``stop`` is set; sleep only when every tick was idle.

    A tick returns how much work it did. Sleeping starts at ``idle_sleep_min`` and doubles up to
    ``idle_sleep_max`` while everything stays idle; any work resets it. A tick that raises is
    logged and counted as idle, so one broken job source (or a database blip) does not stop the
    others. ``stop`` is checked between ticks, so a SIGTERM ends the loop after the current batch.
    """
    sleep = idle_sleep_min
    while not stop.is_set():
        worked = 0
        for tick in ticks:
            if stop.is_set():
                return
            try:
                worked += tick()
            except Exception:
                logger.exception("worker tick %s failed", getattr(tick, "__name__", tick))
        if worked:
            sleep = idle_sleep_min
            continue
        stop.wait(sleep)
        sleep = min(idle_sleep_max, sleep * 2)
