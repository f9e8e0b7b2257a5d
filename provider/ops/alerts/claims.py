"""Which pending alert requests a processor takes next: workspaces take turns.

A storm from one workspace (thousands of pending requests, or a configuration that makes each
of its alerts costly) must delay that workspace only. A batch therefore holds at most
:data:`PER_WORKSPACE` of each workspace's oldest pending requests, interleaved, rather than the
oldest requests overall. The index ``ix_alert_requests_state_workspace_id`` answers both queries
without reading every pending row.

A workspace whose requests prove costly (its configuration makes each alert expensive) also
waits between its turns, across the processor's ticks (:class:`Turns`), so that it takes at most
a share of the processor's time however long its backlog, while other workspaces have requests
waiting.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from collections.abc import Collection

from sqlalchemy import Select
from sqlalchemy import bindparam
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import union_all
from sqlalchemy.orm import Session
from sqlalchemy.orm import aliased
from sqlalchemy.orm import sessionmaker

from provider.db import READ_ONLY
from provider.ops.alerts.models import AlertRequest
from provider.ops.alerts.models import RequestState

#: How many of one workspace's requests a batch takes before the next workspace's turn. A
#: batch's own statements (claim, locks, the alerts, the incidents, outcomes) are paid once per
#: batch: with 5 a storm's requests cost 2.3 statements each, with 25 1.2 (in process, 2,000
#: creates in four workspaces); a transaction still ends after ``BATCH_SECONDS`` once every
#: workspace of the batch had its turn. Five workspaces fill the worker's batch.
PER_WORKSPACE = 50
#: The share of a processor's time one costly workspace may take while other workspaces'
#: requests wait (alone, it takes what is free: see ``process_pending``).
COSTLY_SHARE = 0.25
#: How long the other workspaces must have had nothing processed before a held-back costly
#: workspace takes a turn early. In a storm the queue empties for an instant between arrivals;
#: a costly request started then holds the arrivals for as long as it runs (up to its pattern
#: budget), and such early turns had given the costly workspace a third of the processor.
QUIET_SECONDS = 1.0


class Turns:
    """When each costly workspace may have its next turn: one per processor, kept across its
    ticks. After a request that cost ``c`` seconds (more than ``costly_seconds``), its workspace
    waits ``c * (1 / share - 1)`` seconds, so that it takes at most ``share`` of the time."""

    __slots__ = ("_cheap_at", "_clock", "_factor", "_until", "costly_seconds", "quiet_seconds")

    def __init__(
        self,
        *,
        costly_seconds: float,
        share: float = COSTLY_SHARE,
        quiet_seconds: float = QUIET_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < share <= 1:
            raise ValueError("share must be in (0, 1]")
        self.costly_seconds = costly_seconds
        self.quiet_seconds = quiet_seconds
        self._factor = 1 / share - 1
        self._clock = clock
        self._until: dict[int, float] = {}
        self._cheap_at = float("-inf")

    def waiting(self) -> set[int]:
        """The workspaces whose next turn has not come yet."""
        now = self._clock()
        for workspace_id in [w for w, until in self._until.items() if until <= now]:
            del self._until[workspace_id]
        return set(self._until)

    def quiet(self) -> bool:
        """Whether no request that was not costly has been processed for ``quiet_seconds``:
        then a held-back workspace may go on early without holding anyone's arrivals."""
        return self._clock() - self._cheap_at >= self.quiet_seconds

    def spent(self, workspace_id: int, seconds: float) -> bool:
        """Count one request's cost; whether it was costly (its workspace then waits)."""
        if seconds <= self.costly_seconds:
            self._cheap_at = self._clock()
            return False
        self._until[workspace_id] = self._clock() + seconds * self._factor
        return True


def _waiting_longest() -> Select[int]:
    """The workspaces with pending requests, the one whose oldest has waited longest first,
    none of ``:skip``, at most ``:limit``.

    A loose index scan of ``ix_alert_requests_state_workspace_id``: one index seek per workspace
    with pending requests, for the next workspace id and for its oldest request. Grouping the
    pending requests read every one of them, and a storm's backlog is tens of thousands (on
    PostgreSQL 10 ms per batch with 20,000 waiting).
    """
    pending = AlertRequest.state == RequestState.PENDING
    after = aliased(AlertRequest)
    first = select(func.min(AlertRequest.workspace_id).label("workspace_id")).where(pending)
    found = first.cte("waiting", recursive=True)
    following = (
        select(func.min(after.workspace_id))
        .where(after.state == RequestState.PENDING, after.workspace_id > found.c.workspace_id)
        .scalar_subquery()
    )
    found = found.union_all(select(following).where(found.c.workspace_id.is_not(None)))
    head = aliased(AlertRequest)
    oldest = (
        select(func.min(head.id))
        .where(head.state == RequestState.PENDING, head.workspace_id == found.c.workspace_id)
        .scalar_subquery()
    )
    return (
        select(found.c.workspace_id)
        .where(
            found.c.workspace_id.is_not(None),
            found.c.workspace_id.not_in(bindparam("skip", expanding=True)),
        )
        .order_by(oldest)
        .limit(bindparam("limit"))
    )


_WAITING_LONGEST = _waiting_longest()


def claim_order(
    session_factory: sessionmaker[Session],
    *,
    limit: int,
    per_workspace: int,
    skip: Collection[int] = (),
) -> list[tuple[int, int]]:
    """``(request id, workspace id)`` of pending requests to apply next: each workspace's oldest
    few, taking turns; none of the workspaces in ``skip``.

    Read without locks: another processor may take some first, and the caller skips those
    (``FOR UPDATE SKIP LOCKED`` on the request, then its state). The workspace whose oldest
    request has waited longest goes first.
    """
    pending = AlertRequest.state == RequestState.PENDING
    with session_factory() as session:
        # Only reads: on SQLite this takes no write lock away from the web's intake.
        session.connection(execution_options={READ_ONLY: True})
        workspaces = session.scalars(_WAITING_LONGEST, {"skip": sorted(skip), "limit": limit}).all()
        if not workspaces:
            return []
        # Each workspace's head is an index range of its own; one statement for all of them.
        heads = [
            select(AlertRequest.id, AlertRequest.workspace_id)
            .where(pending, AlertRequest.workspace_id == workspace_id)
            .order_by(AlertRequest.id)
            .limit(per_workspace)
            .subquery()
            for workspace_id in workspaces
        ]
        rows = session.execute(union_all(*(select(head) for head in heads))).all()
    queues: dict[int, list[int]] = {workspace_id: [] for workspace_id in workspaces}
    for request_id, workspace_id in rows:
        queues[workspace_id].append(request_id)
    lanes = [[(r, w) for r in sorted(queue)] for w, queue in queues.items()]
    order = [pair for turn in itertools.zip_longest(*lanes) for pair in turn if pair is not None]
    return order[:limit]
