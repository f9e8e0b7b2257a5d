"""Step 3 of the outbox worker: record what Jira said about a batch, in one short transaction.

Only rows the batch still holds (same lease token, still ``sending``) are touched, so a worker
whose lease expired changes nothing. Accepted entities are deleted, rejected ones kept as
``failed`` with Jira's message; a failed call retries with backoff and dead-letters after the
bound, throttles or pauses the installation, as ``provider.outbox.retry`` decided.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from provider.connect.models import Installation
from provider.outbox.claims import Claim
from provider.outbox.handlers import Batch
from provider.outbox.handlers import Envelope
from provider.outbox.handlers import Outcome
from provider.outbox.kinds import Delivered
from provider.outbox.models import DeliveryState
from provider.outbox.models import MessageStatus
from provider.outbox.models import OutboxMessage
from provider.outbox.retry import Action
from provider.outbox.retry import Decision
from provider.outbox.retry import RetryPolicy
from provider.outbox.rows import chunks
from provider.outbox.rows import installation_is

logger = logging.getLogger(__name__)

MAX_UNKNOWN_PROJECT_KEYS = 100


# Told of each final outcome in the transaction that records it (the timeline of an incident
# listens); the composition root supplies it, so the outbox knows nothing of who listens.
DeliveryObserver = Callable[[Session, Sequence[Delivered]], None]


@dataclass(slots=True)
class Part:
    """A slice of a batch and what happened to it: an outcome, or a decision about a failure."""

    messages: Sequence[Envelope]
    outcome: Outcome | None = None
    decision: Decision | None = None


def record(
    session_factory: sessionmaker[Session],
    claim: Claim,
    parts: list[Part],
    *,
    policy: RetryPolicy,
    rng: random.Random,
    clock: Callable[[], datetime],
    observer: DeliveryObserver | None = None,
) -> None:
    """Record the ``parts`` of a sent batch, retrying when an enqueue of the same entity races."""
    for attempt in range(3):
        try:
            with session_factory.begin() as session:
                delivered = _record_in(session, claim, parts, policy, rng, clock())
                if observer is not None and delivered:
                    _tell(observer, session, delivered)
            return
        except IntegrityError:
            # An enqueue of the same entity slipped in while releasing; the next try sees it.
            if attempt == 2:
                raise
            logger.info("recording raced with an enqueue; retrying")


def _tell(observer: DeliveryObserver, session: Session, delivered: list[Delivered]) -> None:
    """Tell the observer; what it fails to do never undoes the outcome being recorded."""
    try:
        with session.begin_nested():
            observer(session, delivered)
    except Exception:
        logger.exception(
            "the delivery observer failed; %s outcomes recorded without it", len(delivered)
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


def _record_in(
    session: Session,
    claim: Claim,
    parts: list[Part],
    policy: RetryPolicy,
    rng: random.Random,
    now: datetime,
) -> list[Delivered]:
    batch = claim.batch
    state = _state(session, batch.installation_id)
    delivered: list[Delivered] = []

    def final(message: OutboxMessage, ok: bool, text: str = "") -> None:
        delivered.append(
            Delivered(batch.installation_id, batch.kind, message.entity_id, ok, text[:2000])
        )

    for part in parts:
        held = _held(session, claim.token, part.messages)
        if not held:
            continue
        if part.outcome is not None:
            for message in held:
                failed = part.outcome.failed.get(message.entity_id)
                final(message, failed is None, failed or "")
            _record_outcome(session, batch, held, part.outcome, state, now)
            continue
        decision = part.decision
        assert decision is not None  # noqa: S101 - a part has an outcome or a decision
        if state is None and decision.action in (Action.THROTTLE, Action.PAUSE):
            # No site to hold back or pause (a message not bound to an installation).
            decision = Decision(Action.RETRY, decision.reason)
        if decision.action is Action.THROTTLE:
            _release(session, held)
            if state is not None:  # always, after the rewrite above
                state.throttle_count += 1
                delay = policy.throttle_delay(decision.retry_after, state.throttle_count, rng)
                state.not_before = now + timedelta(seconds=delay)
                state.last_error, state.last_error_at = decision.reason, now
                logger.warning(
                    "jira throttled installation_id=%s; holding it for %.1fs (%s)",
                    batch.installation_id,
                    delay,
                    decision.reason,
                )
        elif decision.action is Action.PAUSE:
            _release(session, held)
            _pause(session, batch.installation_id, decision.reason, now)
        elif decision.action is Action.RETRY:
            _retry(session, held, decision.reason, now, policy, rng)
            for message in held:
                if message.status == MessageStatus.DEAD:
                    final(message, False, decision.reason)
            if state is not None:
                state.last_error, state.last_error_at = decision.reason, now
        else:
            for message in held:
                _mark_failed(message, decision.reason)
                final(message, False, decision.reason)
            if state is not None:
                state.last_error, state.last_error_at = decision.reason, now
            logger.warning(
                "jira rejected a batch of %s %s messages: %s",
                len(held),
                batch.kind,
                decision.reason,
            )

    return delivered


def _record_outcome(
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
    for chunk in chunks(done_ids):
        session.execute(
            delete(OutboxMessage)
            .where(
                installation_is(batch.installation_id),
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
            keys = list(dict.fromkeys([*outcome.unknown_project_keys, *state.unknown_project_keys]))
            state.unknown_project_keys = keys[:MAX_UNKNOWN_PROJECT_KEYS]


def _held(session: Session, token: str, messages: Sequence[Envelope]) -> list[OutboxMessage]:
    """The rows of ``messages`` this batch still holds (a lost lease means hands off)."""
    held: list[OutboxMessage] = []
    for chunk in chunks([m.id for m in messages]):
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
    session: Session,
    messages: Iterable[OutboxMessage],
    *,
    next_attempt_at: datetime | None = None,
) -> None:
    """Put messages back to ``pending``, unless a newer pending change replaced them."""
    messages = list(messages)
    superseded = _with_pending_sibling(session, messages)
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
    session: Session,
    messages: list[OutboxMessage],
    reason: str,
    now: datetime,
    policy: RetryPolicy,
    rng: random.Random,
) -> None:
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
        delay = policy.backoff(attempt, rng)
        _release(session, retry, next_attempt_at=now + timedelta(seconds=delay))


def _with_pending_sibling(session: Session, messages: list[OutboxMessage]) -> set[str]:
    if not messages:
        return set()
    first = messages[0]
    found: set[str] = set()
    for chunk in chunks([m.entity_id for m in messages]):
        found.update(
            session.scalars(
                select(OutboxMessage.entity_id).where(
                    installation_is(first.installation_id),
                    OutboxMessage.kind == first.kind,
                    OutboxMessage.entity_id.in_(chunk),
                    OutboxMessage.status == MessageStatus.PENDING,
                )
            )
        )
    return found


def _state(session: Session, installation_id: int | None) -> DeliveryState | None:
    if installation_id is None:
        return None
    return ensure_delivery_state(session, installation_id)


def _pause(session: Session, installation_id: int | None, reason: str, now: datetime) -> None:
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


def _mark_failed(message: OutboxMessage, reason: str) -> None:
    message.status = MessageStatus.FAILED
    message.last_error = reason[:2000]
    message.claimed_until = None
    message.claimed_by = None
