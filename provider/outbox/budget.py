"""Pacing and Jira's points budget per site: fewer, fuller requests, and incidents first.

Jira charges every write request one point of an hourly per-site quota, whatever its size, so
the cost of delivery is the number of requests, not of entities. Two rules keep it low:

* **Pacing** (a GCRA, the "generic cell rate algorithm" of token buckets): a site that has not
  been sent anything lately gets the next batch at once, up to ``burst`` batches in a row;
  after that one batch per ``window``. Changes that arrive in between accumulate in the outbox
  (a newer change of an entity replaces the older one) and go out together. ``pace_at`` is the
  theoretical arrival time of the next request; a claim is allowed while it is no later than
  ``now + (burst - 1) * window``.
* **Settling**: changes of the kinds that are not urgent (components, reviews) wait until no
  new one of their kind has arrived for the site in ``settle`` seconds, or the oldest has
  waited ``max_wait``: a script creating 1,500 components, however long it takes, is sent in
  a few full requests instead of one per window. Incidents and workspace links never wait
  for it: an incident to an idle site goes at once.
* **The budget**: every answer's rate-limit headers (``provider.connect.quota``) update the
  points left; between answers they are counted down locally. When what is left falls to the
  reserve, only the urgent kinds (incidents, workspace links) are claimed until the quota's
  window resets; components and reviews wait in the outbox, nothing is dropped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from provider.outbox.models import DeliveryState
from provider.outbox.models import MessageStatus
from provider.outbox.models import OutboxMessage
from provider.outbox.rows import site_in
from provider.times import iso

if TYPE_CHECKING:
    # An annotation only: provider.connect.http brings requests, which the web process (the
    # admin page reads budgets from here) has no use for.
    from provider.connect.http import JiraCall

# Without a policy header, a window is assumed to last what Jira's does.
DEFAULT_WINDOW_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class Pacing:
    """How often one site is sent a batch, and what is kept for incidents near its quota.

    :param window: seconds between batches to a site that was sent ``burst`` in a row.
    :param burst: batches sent at once to a site that was idle (≥ 1).
    :param reserve_fraction: share of the quota kept for urgent kinds.
    :param reserve_min: points kept for urgent kinds at least (also when the quota is unknown).
    :param settle: seconds without a new change of a kind that is not urgent before its
        changes go.
    :param max_wait: the longest such a change waits for the others to settle.
    """

    window: float = 1.0
    burst: int = 2
    settle: float = 2.0
    max_wait: float = 30.0
    reserve_fraction: float = 0.1
    reserve_min: int = 50

    @property
    def tolerance(self) -> timedelta:
        return timedelta(seconds=self.window * max(0, self.burst - 1))

    def reserve(self, quota: int | None) -> int:
        if quota is None:
            return self.reserve_min
        return max(self.reserve_min, math.ceil(quota * self.reserve_fraction))


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


def site_due(now: datetime, pacing: Pacing) -> ColumnElement[bool]:
    """SQL: the site (joined ``DeliveryState``) may be sent a batch now."""
    return or_(DeliveryState.pace_at.is_(None), DeliveryState.pace_at <= now + pacing.tolerance)


def old_enough(now: datetime, pacing: Pacing) -> ColumnElement[bool]:
    """SQL: the message (``OutboxMessage``) is older than the settle time."""
    if pacing.settle <= 0:
        return true()
    return OutboxMessage.created_at <= now - timedelta(seconds=pacing.settle)


def settled(
    session: Session,
    installation_id: int,
    kind: str,
    oldest: datetime,
    now: datetime,
    pacing: Pacing,
) -> bool:
    """Whether the site's pending changes of ``kind`` may go: quiet for ``settle`` seconds,
    or the ``oldest`` has waited ``max_wait``.

    The newest pending row is the one with the highest id; the query only runs while the oldest
    is younger than ``max_wait``, that is for a backlog of that kind that is young and small.
    """
    if pacing.settle <= 0 or oldest <= now - timedelta(seconds=pacing.max_wait):
        return True
    newest = session.scalar(
        select(OutboxMessage.created_at)
        .where(site_in(installation_id, MessageStatus.PENDING), OutboxMessage.kind == kind)
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    )
    return newest is None or newest <= now - timedelta(seconds=pacing.settle)


def points_available(now: datetime) -> ColumnElement[bool]:
    """SQL: the site (joined ``DeliveryState``) has points for more than urgent kinds."""
    return or_(DeliveryState.points_low_until.is_(None), DeliveryState.points_low_until <= now)


def note_claim(session: Session, installation_id: int, now: datetime, pacing: Pacing) -> None:
    """A batch for the site was claimed: the next one is due a window later."""
    state = ensure_delivery_state(session, installation_id)
    due = state.pace_at if state.pace_at is not None and state.pace_at > now else now
    state.pace_at = due + timedelta(seconds=pacing.window)


def note_calls(
    state: DeliveryState, calls: Sequence[JiraCall], now: datetime, pacing: Pacing
) -> None:
    """Account for the requests of one batch: points spent and left, 429s, the reserve."""
    if not calls:
        return
    if state.points_reset_at is not None and now >= state.points_reset_at:
        # A new window: the old count is meaningless, and the next answer says what is left.
        state.points_spent = 0
        state.points_remaining = state.points_quota
        state.points_reset_at = None
    state.last_request_at = now
    for call in calls:
        state.requests_total += 1
        quota = call.quota
        if call.status == 429:
            state.throttled_total += 1
            state.rate_limit_reason = quota.reason or state.rate_limit_reason
        elif call.status is not None:
            state.points_spent += 1
            if quota.remaining is None and state.points_remaining is not None:
                state.points_remaining = max(0, state.points_remaining - 1)
        if quota.quota is not None:
            state.points_quota = quota.quota
        if quota.window_seconds is not None:
            state.points_window_seconds = quota.window_seconds
        if quota.remaining is not None:
            state.points_remaining = quota.remaining
            if state.points_quota is not None:
                # Jira's count covers every instance of the app, not only this worker.
                state.points_spent = max(0, state.points_quota - quota.remaining)
        if quota.resets_in is not None:
            state.points_reset_at = now + timedelta(seconds=quota.resets_in)
        if quota.reason is not None:
            state.rate_limit_reason = quota.reason
    low = state.points_remaining is not None and state.points_remaining <= pacing.reserve(
        state.points_quota
    )
    if not low:
        state.points_low_until = None
        return
    window = state.points_window_seconds or DEFAULT_WINDOW_SECONDS
    state.points_low_until = state.points_reset_at or now + timedelta(seconds=window)


def budget_json(state: DeliveryState | None, now: datetime) -> dict[str, Any]:
    """The site's pace and points as ``provider outbox status`` and the admin page show them."""
    if state is None:
        state = DeliveryState(requests_total=0, throttled_total=0, points_spent=0)
    low = state.points_low_until is not None and state.points_low_until > now
    return {
        "pointsQuota": state.points_quota,
        "pointsRemaining": state.points_remaining,
        "pointsSpent": state.points_spent or 0,
        "pointsResetAt": iso(state.points_reset_at),
        # Near the quota: incidents (and links) still go, components and reviews wait.
        "incidentsOnly": low,
        "incidentsOnlyUntil": iso(state.points_low_until) if low else None,
        "requests": state.requests_total or 0,
        "throttled": state.throttled_total or 0,
        "rateLimitReason": state.rate_limit_reason,
        "lastRequestAt": iso(state.last_request_at),
        "nextBatchAt": iso(state.pace_at) if state.pace_at and state.pace_at > now else None,
    }
