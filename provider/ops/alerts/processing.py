"""Apply pending alert requests in batches, one transaction per batch, and record the outcomes.

The worker calls :func:`process_pending` in its loop. Workspaces take turns: each batch holds
at most a few of each workspace's oldest pending requests, interleaved, so one workspace's
backlog (or a configuration that makes each of its alerts costly) delays that workspace, not
the others. Within a workspace requests apply in the order they were accepted, so the requests
of one alias (create, acknowledge, close, create again) apply in order even within one batch.
Each request has one pattern budget that every listener shares (see ``provider.ops.lang.regex``).

A batch is one transaction: its requests are locked in one query, the alerts they name are
loaded in another (:class:`~provider.ops.alerts.known.KnownAlerts`), each request applies to
those in memory, and one commit writes the lot. A request that raises anything but its own
refusal rolls the batch back, and the batch is applied again one request per transaction, so
that request alone is recorded as failed and its neighbours succeed.

On PostgreSQL several processors may run at once: each takes a workspace's requests only while
it holds that workspace's advisory lock (so one alias's requests never apply out of order on two
processors), locks the alerts it changes, and de-duplication rests on the partial unique index
(exact under any concurrency). On SQLite every transaction takes the write lock up front, which
serializes processors.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from collections.abc import Sequence
from typing import Any
from typing import cast

from sqlalchemy import Table
from sqlalchemy import bindparam
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from provider.db import READ_ONLY
from provider.db import among
from provider.ops.alerts.apply import STATUS_CREATED as STATUS_CREATED
from provider.ops.alerts.apply import STATUS_DEDUPLICATED as STATUS_DEDUPLICATED
from provider.ops.alerts.apply import STATUS_NOT_FOUND as STATUS_NOT_FOUND
from provider.ops.alerts.apply import apply_request as apply_request
from provider.ops.alerts.claims import PER_WORKSPACE
from provider.ops.alerts.claims import Turns
from provider.ops.alerts.claims import claim_order
from provider.ops.alerts.known import KnownAlerts
from provider.ops.alerts.listeners import AlertListeners
from provider.ops.alerts.models import AlertRequest
from provider.ops.alerts.models import PendingRequest
from provider.ops.alerts.models import RequestState
from provider.ops.lang.regex import Budget
from provider.times import utcnow

logger = logging.getLogger(__name__)

STATUS_FAILED = "Request could not be processed"
#: A request that takes longer ends its workspace's turns for the worker's current tick.
COSTLY_SECONDS = 0.05
#: How long a batch's transaction goes on taking requests, by database. On SQLite it holds the
#: write lock the intake waits for. On PostgreSQL it holds only the rows it changes, and what a
#: batch pays once (the claim, its locks, the workspaces' rules and mappings) is spread over more
#: requests: in the storm benchmark one worker processed 150 requests/s with 0.05 s, 262 with 0.5.
BATCH_SECONDS = {"sqlite": 0.05, "postgresql": 0.5}
#: On SQLite, while requests keep arriving, after each batch the worker leaves the write lock
#: free for at least this long, and for this share of the time the batch held it, so the
#: intake's writes get in.
WRITER_PAUSE = 0.002
WRITER_PAUSE_SHARE = 0.5
# Namespaces the advisory locks of alert processing (two-key form: class, workspace id).
ADVISORY_LOCK_CLASS = 0x0A1E


_REQUESTS = cast(Table, AlertRequest.__table__)
OUTCOME_COLUMNS = ("state", "processed_at", "is_success", "status_message", "alert_public_id")
# The outcomes of a batch, one Core executemany: the ORM's bulk UPDATE by primary key coerced
# each row's values again and flushed the session first; nothing in the session reads them.
_RECORD_OUTCOMES = (
    update(_REQUESTS)
    .where(_REQUESTS.c.id == bindparam("request_id"))
    .values({column: bindparam(column) for column in OUTCOME_COLUMNS})
)


def process_pending(
    session_factory: sessionmaker[Session],
    *,
    listeners: AlertListeners,
    limit: int = 100,
    per_workspace: int = PER_WORKSPACE,
    costly_seconds: float | None = None,
    turns: Turns | None = None,
    batch_seconds: float | None = None,
) -> int:
    """Apply up to ``limit`` pending requests, workspaces in turn; returns how many were processed.

    ``listeners`` run after each change, in its transaction (see ``provider.worker``).
    ``costly_seconds``: a workspace one of whose requests takes longer gets no more turns in
    this call (``None`` drains the queue). ``turns``: the processor's memory of costly
    workspaces across calls (the worker passes one, with :data:`COSTLY_SECONDS`); a workspace
    it holds back waits for a later call. ``batch_seconds``: how long one transaction goes on
    taking requests once every workspace of its batch had a turn (the worker passes
    :func:`batch_seconds_for`); ``None``: the whole batch.
    """
    if turns is not None and costly_seconds is None:
        costly_seconds = turns.costly_seconds
    processed = 0
    # A workspace whose configuration makes its requests costly waits while the others'
    # requests go first: its cost delays itself. A workspace another processor holds waits
    # for it.
    held_back = turns.waiting() if turns is not None else set()
    skip = set(held_back)
    bind = session_factory.kw.get("bind")
    sqlite_writer = isinstance(bind, Engine) and bind.dialect.name == "sqlite"
    newest: int | None = None
    while processed < limit:
        batch = claim_order(
            session_factory, limit=limit - processed, per_workspace=per_workspace, skip=skip
        )
        if not batch and held_back and (turns is None or turns.quiet()):
            # Nobody else's requests wait, nor were any processed for a while: a workspace
            # held back for its cost goes on rather than the processor idling. Once per call,
            # so the worker's other jobs keep theirs.
            skip -= held_back
            held_back = set()
            batch = claim_order(
                session_factory, limit=limit - processed, per_workspace=per_workspace, skip=skip
            )
        if not batch:
            break
        began = time.monotonic()
        done, held = _process_batch(
            session_factory, batch, listeners, _Costs(skip, costly_seconds, turns), batch_seconds
        )
        processed += done
        if not done and not held:
            break  # every request of the batch was taken by another processor meanwhile
        skip |= held
        if costly_seconds is not None and sqlite_writer:
            # Else, taking SQLite's write lock again at once, it starves the intake. Once the
            # intake is quiet (nothing arrived since the last batch), pausing only idles the
            # worker: after a storm that was a third of the time it took to drain the backlog.
            # An intake that waits gets the lock when the batch ends, so it shows as arrivals
            # by the next batch and the pauses resume.
            arrived, newest = _arrivals(session_factory, newest)
            if arrived:
                time.sleep(max(WRITER_PAUSE, (time.monotonic() - began) * WRITER_PAUSE_SHARE))
    return processed


def batch_seconds_for(session_factory: sessionmaker[Session]) -> float:
    """:data:`BATCH_SECONDS` for the database of ``session_factory``."""
    bind = session_factory.kw.get("bind")
    dialect = bind.dialect.name if isinstance(bind, Engine | Connection) else "sqlite"
    return BATCH_SECONDS.get(dialect, BATCH_SECONDS["sqlite"])


def _arrivals(session_factory: sessionmaker[Session], seen: int | None) -> tuple[bool, int]:
    """Whether requests arrived since the newest one ``seen`` (``None``: assume so), and the
    newest now."""
    with session_factory() as session:
        session.connection(execution_options={READ_ONLY: True})
        newest = session.scalar(select(func.max(AlertRequest.id))) or 0
    return seen is None or newest > seen, newest


class _Costs:
    """What the requests of one call cost: a costly one's workspace joins ``skip``."""

    __slots__ = ("costly_seconds", "skip", "turns")

    def __init__(self, skip: set[int], costly_seconds: float | None, turns: Turns | None) -> None:
        self.skip = skip
        self.costly_seconds = costly_seconds
        self.turns = turns

    def spent(self, workspace_id: int, started: float) -> None:
        if self.costly_seconds is None:
            return
        seconds = time.monotonic() - started
        if self.turns is not None:
            self.turns.spent(workspace_id, seconds)
        if seconds > self.costly_seconds:
            self.skip.add(workspace_id)


def _process_batch(
    session_factory: sessionmaker[Session],
    batch: Sequence[tuple[int, int]],
    hooks: AlertListeners,
    costs: _Costs,
    batch_seconds: float | None,
) -> tuple[int, set[int]]:
    """Apply ``batch`` in one transaction; ``(how many were processed, workspaces held by
    another processor)``. Requests left out after ``batch_seconds`` stay pending for the next
    batch."""
    try:
        with session_factory() as session, session.begin():
            began = time.monotonic()
            held = _held_elsewhere(session, {workspace_id for _, workspace_id in batch})
            requests = _lock_pending(
                session, [rid for rid, workspace_id in batch if workspace_id not in held]
            )
            known = KnownAlerts.load(session, requests.values())
            hooks.prepare(session, known.alerts())
            outcomes: list[dict[str, Any]] = []
            first_turns = {workspace_id for _, workspace_id in batch} - held
            for request_id, workspace_id in batch:
                if (
                    batch_seconds is not None
                    and not first_turns
                    and time.monotonic() - began > batch_seconds
                ):
                    break  # every workspace had its turn; the rest wait for the next batch
                first_turns.discard(workspace_id)
                request = requests.get(request_id)
                if request is None or workspace_id in costs.skip:
                    continue
                started = time.monotonic()
                outcomes.append(_apply(session, request, hooks, known))
                costs.spent(workspace_id, started)
            known.write_counts(session)  # before the listeners finish: descriptions read them
            hooks.finish(session)
            known.write_logs(session)
            if outcomes:
                # one statement for the batch's outcomes, rather than one per request
                session.execute(_RECORD_OUTCOMES, outcomes)
            return len(outcomes), held
    except Exception:
        # Rolled back whole: a request raised (logged where it did), or the commit failed.
        logger.exception("alert request batch failed; applying it one request at a time")
    done = 0
    for request_id, workspace_id in batch:
        if workspace_id in costs.skip:
            continue
        started = time.monotonic()
        done += _process_one(session_factory, request_id, workspace_id, hooks)
        costs.spent(workspace_id, started)
    return done, set()


def _held_elsewhere(session: Session, workspace_ids: Collection[int]) -> set[int]:
    """The workspaces whose requests another processor is applying (PostgreSQL); the others
    are this transaction's until it ends."""
    if not workspace_ids or session.get_bind().dialect.name != "postgresql":
        return set()
    ordered = sorted(workspace_ids)
    # one round trip for all of them; a try never waits, so the order cannot deadlock
    taken = session.execute(
        select(*(func.pg_try_advisory_xact_lock(ADVISORY_LOCK_CLASS, w) for w in ordered))
    ).one()
    return {w for w, ok in zip(ordered, taken, strict=True) if not ok}


# The pending requests of a batch, locked, read as rows: the processor only reads them (their
# outcomes go in one UPDATE), and building an ORM object for each was a tenth of a batch's CPU.
_LOCK_PENDING = (
    select(_REQUESTS)
    .where(
        among(_REQUESTS.c.id, "request_ids"),
        _REQUESTS.c.state == RequestState.PENDING,
    )
    .order_by(_REQUESTS.c.id)
    .with_for_update(skip_locked=True)
)


def _lock_pending(session: Session, request_ids: Sequence[int]) -> dict[int, PendingRequest]:
    if not request_ids:
        return {}
    rows = session.execute(_LOCK_PENDING, {"request_ids": list(request_ids)})
    return {row.id: cast(PendingRequest, row) for row in rows}


def _apply(
    session: Session, request: PendingRequest, hooks: AlertListeners, known: KnownAlerts
) -> dict[str, Any]:
    """Apply one request of a batch; its outcome, as the columns of its row."""
    budget = Budget()
    try:
        success, status, alert_id = apply_request(session, request, hooks, budget, known)
    except Exception:
        logger.warning(
            "alert request failed in a batch request_id=%s action=%s",
            request.public_id,
            request.action.value,
        )
        raise
    return {"request_id": request.id, **_outcome(success, status, alert_id, budget)}


def _process_one(
    session_factory: sessionmaker[Session],
    request_id: int,
    workspace_id: int,
    hooks: AlertListeners,
) -> int:
    with session_factory() as session, session.begin():
        if _held_elsewhere(session, [workspace_id]):
            return 0  # another processor is applying the workspace's requests; they wait
        request = _lock_pending(session, [request_id]).get(request_id)
        if request is None:
            return 0  # another processor took it
        budget = Budget()
        try:
            with session.begin_nested():
                known = KnownAlerts()
                success, status, alert_id = apply_request(session, request, hooks, budget, known)
                known.write_counts(session)
                known.write_logs(session)
        except Exception:
            # A bug or a failing hook must not block the queue behind this request; the change
            # was rolled back with the savepoint, so nothing half-applied remains.
            logger.exception(
                "alert request failed request_id=%s action=%s",
                request.public_id,
                request.action.value,
            )
            success, status, alert_id = False, STATUS_FAILED, request.alert_public_id
        session.execute(
            _RECORD_OUTCOMES,
            {"request_id": request.id, **_outcome(success, status, alert_id, budget)},
        )
    return 1


def _outcome(success: bool, status: str, alert_id: str | None, budget: Budget) -> dict[str, Any]:
    if budget.exhausted:
        status = f"{status}; some tenant patterns were not run: {budget.reason()}"
    return {
        "state": RequestState.PROCESSED,
        "processed_at": utcnow(),
        "is_success": success,
        "status_message": status[:500],
        "alert_public_id": alert_id,
    }
