"""A batch of alert requests applies in one transaction and gives what one at a time would.

Order per alias, exact counts under repeated aliases, a failing request isolated from its
neighbours, and (PostgreSQL) a workspace another processor holds left to it.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from provider.db import make_engine
from provider.db import make_session_factory
from provider.ops.access.principal import ApiPrincipal
from provider.ops.alerts.claims import Turns
from provider.ops.alerts.claims import claim_order
from provider.ops.alerts.known import _NAMED
from provider.ops.alerts.known import KnownAlerts
from provider.ops.alerts.listeners import AlertListener
from provider.ops.alerts.listeners import AlertListeners
from provider.ops.alerts.models import Alert
from provider.ops.alerts.models import AlertAction
from provider.ops.alerts.models import AlertEvent
from provider.ops.alerts.models import AlertRequest
from provider.ops.alerts.models import AlertStatus
from provider.ops.alerts.models import RequestState
from provider.ops.alerts.processing import ADVISORY_LOCK_CLASS
from provider.ops.alerts.processing import STATUS_CREATED
from provider.ops.alerts.processing import STATUS_DEDUPLICATED
from provider.ops.alerts.processing import STATUS_FAILED
from provider.ops.alerts.processing import batch_seconds_for
from provider.ops.alerts.processing import process_pending
from provider.ops.alerts.schemas import AlertCreate
from provider.ops.alerts.service import AlertRef
from provider.ops.alerts.service import submit_action
from provider.ops.alerts.service import submit_create
from provider.ops.lang.regex import Budget
from provider.ops.workspaces.service import create_workspace
from tests.databases import Databases
from tests.plans import explain

BATCH = 100  # every test's requests fit one batch


def _principal(session: Session, name: str) -> ApiPrincipal:
    workspace, _key, _code = create_workspace(session, name)
    return ApiPrincipal(workspace=workspace)


def _create(session: Session, principal: ApiPrincipal, alias: str) -> AlertRequest:
    return submit_create(
        session, principal, AlertCreate.from_json({"message": f"{alias} broke", "alias": alias})
    )


def _with_requests(session: Session, name: str, n: int) -> ApiPrincipal:
    """A new workspace with ``n`` pending creates, committed."""
    principal = _principal(session, name)
    for i in range(n):
        _create(session, principal, f"slow-{i}")
    session.commit()
    return principal


def _outcomes(session: Session, requests: list[AlertRequest]) -> list[tuple[bool | None, str]]:
    session.expire_all()
    return [(r.is_success, r.status_message or "") for r in requests]


def test_requests_of_one_alias_apply_in_order_within_a_batch(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    principal = _principal(session, "Order")
    alias = AlertRef("db-1", "alias")
    requests = [
        _create(session, principal, "db-1"),
        submit_action(session, principal, AlertAction.ACKNOWLEDGE, alias),
        _create(session, principal, "db-1"),
        submit_action(session, principal, AlertAction.CLOSE, alias),
        _create(session, principal, "db-1"),
        submit_action(session, principal, AlertAction.ADD_TAGS, alias, {"tags": ["again"]}),
    ]
    session.commit()
    seen: list[tuple[AlertEvent, int, int]] = []

    def record(_s: Session, alert: Alert, event: AlertEvent, _b: Budget) -> None:
        seen.append((event, alert.id, alert.count))

    hooks = AlertListeners([record])
    assert process_pending(session_factory, listeners=hooks, per_workspace=BATCH) == 6

    assert _outcomes(session, requests) == [
        (True, STATUS_CREATED),
        (True, "Request processed successfully"),
        (True, STATUS_DEDUPLICATED),
        (True, "Request processed successfully"),
        (True, STATUS_CREATED),
        (True, "Request processed successfully"),
    ]
    first, second = session.scalars(
        select(Alert).where(Alert.workspace_id == principal.workspace.id).order_by(Alert.id)
    ).all()
    assert (first.status, first.acknowledged, first.count) == (AlertStatus.CLOSED, True, 2)
    assert (second.status, second.acknowledged, second.count) == (AlertStatus.OPEN, False, 1)
    assert second.tags == ["again"]
    assert [r.alert_public_id for r in requests] == [first.public_id] * 4 + [second.public_id] * 2
    assert seen == [
        (AlertEvent.CREATED, first.id, 1),
        (AlertEvent.ACKNOWLEDGED, first.id, 1),
        (AlertEvent.DEDUPLICATED, first.id, 2),
        (AlertEvent.CLOSED, first.id, 2),
        (AlertEvent.CREATED, second.id, 1),
        (AlertEvent.TAGS_ADDED, second.id, 1),
    ]


def test_repeated_aliases_in_one_batch_count_exactly(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    principals = [_principal(session, "Left"), _principal(session, "Right")]
    for i in range(60):
        # the same aliases in both workspaces: each workspace counts its own
        _create(session, principals[i % 2], f"disk-{i % 3}")
    session.commit()
    counts: dict[tuple[int, str], list[int]] = {}

    def record(_s: Session, alert: Alert, _e: AlertEvent, _b: Budget) -> None:
        counts.setdefault((alert.workspace_id, alert.alias), []).append(alert.count)

    hooks = AlertListeners([record])
    assert process_pending(session_factory, listeners=hooks, per_workspace=BATCH) == 60

    session.expire_all()
    rows = session.execute(
        select(Alert.workspace_id, Alert.alias, Alert.status, Alert.count).where(
            Alert.workspace_id.in_([p.workspace.id for p in principals])
        )
    ).all()
    assert sorted((r.alias, r.status, r.count) for r in rows) == sorted(
        (f"disk-{n}", AlertStatus.OPEN, 10) for n in range(3) for _ in principals
    )
    # every listener call saw the count as that request left it
    assert sorted(counts.values()) == [list(range(1, 11))] * 6


def test_sqlites_batches_yield_the_write_lock_soon_and_postgresqls_take_the_whole_batch(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    # On SQLite a batch's transaction holds the lock the intake waits for; on PostgreSQL what a
    # batch pays once (claim, locks, configuration reads) is spread over all of its requests.
    _with_requests(session, "Slow", 10)
    batches: list[int] = []

    def count_batch(_s: Session, _alerts: object) -> None:
        batches.append(0)

    def slow(_s: Session, _alert: Alert, _e: AlertEvent, _b: Budget) -> None:
        time.sleep(0.01)  # 10 of these: twice SQLite's bound, a fifth of PostgreSQL's

    hooks = AlertListeners([slow], prepare=[count_batch])
    seconds = batch_seconds_for(session_factory)
    assert process_pending(session_factory, listeners=hooks, batch_seconds=seconds) == 10

    if session.get_bind().dialect.name == "sqlite":
        assert seconds == 0.05
        assert len(batches) >= 2
    else:
        assert seconds == 0.5
        assert len(batches) == 1


def test_a_failing_request_does_not_fail_its_batch_neighbours(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    principal = _principal(session, "Poison")
    other = _principal(session, "Neighbour")
    requests = [
        _create(session, principal, "a"),
        _create(session, principal, "boom"),
        _create(session, other, "b"),
        _create(session, principal, "a"),
        _create(session, other, "b"),
    ]
    session.commit()

    def explode(_s: Session, alert: Alert, _e: AlertEvent, _b: Budget) -> None:
        if alert.alias == "boom":
            raise RuntimeError("a listener failed")

    hooks = AlertListeners([explode])
    assert process_pending(session_factory, listeners=hooks, per_workspace=BATCH) == 5

    assert _outcomes(session, requests) == [
        (True, STATUS_CREATED),
        (False, STATUS_FAILED),
        (True, STATUS_CREATED),
        (True, STATUS_DEDUPLICATED),
        (True, STATUS_DEDUPLICATED),
    ]
    rows = session.execute(
        select(Alert.alias, Alert.count).where(
            Alert.workspace_id.in_([principal.workspace.id, other.workspace.id])
        )
    ).all()
    assert sorted(tuple(r) for r in rows) == [("a", 2), ("b", 2)]


def test_a_workspace_another_processor_holds_is_left_to_it(
    databases: Databases, fresh_database_url: str
) -> None:
    if databases.backend != "postgresql":
        pytest.skip("SQLite serialises processors with its write lock")
    engine = make_engine(fresh_database_url)
    factory = make_session_factory(engine)
    try:
        with factory.begin() as session:
            held, free = _principal(session, "Held"), _principal(session, "Free")
            for i in range(4):
                _create(session, held if i % 2 else free, f"x-{i}")
        with factory.begin() as other:
            # another processor's transaction, in the middle of the held workspace's requests
            other.execute(
                select(func.pg_advisory_xact_lock(ADVISORY_LOCK_CLASS, held.workspace.id))
            )
            assert process_pending(factory, listeners=AlertListeners(), per_workspace=BATCH) == 2
        with factory() as session:
            pending = session.scalars(
                select(AlertRequest.workspace_id).where(AlertRequest.state == RequestState.PENDING)
            ).all()
            assert pending == [held.workspace.id] * 2
        assert process_pending(factory, listeners=AlertListeners(), per_workspace=BATCH) == 2
    finally:
        engine.dispose()


def test_the_workspace_waiting_longest_goes_first_and_workspaces_take_turns(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    a, b, c = (_principal(session, name) for name in ("A", "B", "C"))
    b1, a1, c1, a2, b2, a3 = (
        _create(session, p, f"x-{n}").id for n, p in enumerate((b, a, c, a, b, a))
    )
    session.commit()

    assert claim_order(session_factory, limit=10, per_workspace=2) == [
        (b1, b.workspace.id),
        (a1, a.workspace.id),
        (c1, c.workspace.id),
        (b2, b.workspace.id),
        (a2, a.workspace.id),
    ]
    skip = {a.workspace.id}
    assert claim_order(session_factory, limit=10, per_workspace=5, skip=skip) == [
        (b1, b.workspace.id),
        (c1, c.workspace.id),
        (b2, b.workspace.id),
    ]
    # at most ``limit`` workspaces, then ``limit`` requests
    assert claim_order(session_factory, limit=2, per_workspace=5) == [
        (b1, b.workspace.id),
        (a1, a.workspace.id),
    ]
    assert claim_order(session_factory, limit=10, per_workspace=5)[-2:] == [
        (a2, a.workspace.id),
        (a3, a.workspace.id),
    ]


def _slow_in(principal: ApiPrincipal) -> AlertListener:
    """A listener that takes 0.3 s for each change in ``principal``'s workspace."""

    def slow(_s: Session, alert: Alert, _e: AlertEvent, _b: Budget) -> None:
        if alert.workspace_id == principal.workspace.id:
            time.sleep(0.3)

    return slow


def test_a_costly_workspace_waits_between_turns_across_calls(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    costly, cheap = _principal(session, "Costly"), _principal(session, "Cheap")
    for i in range(3):
        _create(session, costly, f"slow-{i}")
        _create(session, cheap, f"fast-{i}")
    for i in range(3, 5):
        _create(session, cheap, f"fast-{i}")
    session.commit()

    now = [0.0]
    # far above what a cheap request costs, even on a loaded machine
    turns = Turns(costly_seconds=0.15, share=0.5, clock=lambda: now[0])
    hooks = AlertListeners([_slow_in(costly)])

    def pending(principal: ApiPrincipal) -> int:
        session.expire_all()
        return len(
            session.scalars(
                select(AlertRequest.id).where(
                    AlertRequest.workspace_id == principal.workspace.id,
                    AlertRequest.state == RequestState.PENDING,
                )
            ).all()
        )

    # one costly request, then its workspace waits; the cheap one's go on
    assert process_pending(session_factory, listeners=hooks, limit=1, turns=turns) == 1
    assert process_pending(session_factory, listeners=hooks, limit=3, turns=turns) == 3
    assert (pending(costly), pending(cheap)) == (2, 2)
    # while another workspace's requests wait, it waits as long as its request took (share
    # 0.5): not before, but after (then its request, older, goes first)
    now[0] = 0.25
    assert process_pending(session_factory, listeners=hooks, limit=1, turns=turns) == 1
    assert (pending(costly), pending(cheap)) == (2, 1)
    now[0] = 5.0
    assert process_pending(session_factory, listeners=hooks, limit=2, turns=turns) == 2
    assert (pending(costly), pending(cheap)) == (1, 0)


def test_a_costly_workspace_alone_is_not_held_back(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    # Holding it back while nobody else waits would only idle the processor; one batch of it
    # per call, so that the worker's other jobs (deliveries) keep their turns.
    costly = _with_requests(session, "Costly", 3)

    def slow(_s: Session, _alert: Alert, _e: AlertEvent, _b: Budget) -> None:
        time.sleep(0.3)

    now = [0.0]
    turns = Turns(costly_seconds=0.15, share=0.1, clock=lambda: now[0])
    hooks = AlertListeners([slow])
    assert process_pending(session_factory, listeners=hooks, limit=10, turns=turns) == 1
    assert turns.waiting() == {costly.workspace.id}
    assert process_pending(session_factory, listeners=hooks, limit=10, turns=turns) == 1
    assert process_pending(session_factory, listeners=hooks, limit=10, turns=turns) == 1
    assert process_pending(session_factory, listeners=hooks, limit=10, turns=turns) == 0


def test_a_costly_workspace_waits_for_the_others_to_be_quiet_before_an_early_turn(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    # In a storm the others' queue is empty for an instant between arrivals; a costly request
    # started then would hold the arrivals behind it, and such early turns add up.
    costly, cheap = _principal(session, "Costly"), _principal(session, "Cheap")
    for i in range(3):
        _create(session, costly, f"slow-{i}")
    _create(session, cheap, "fast-0")
    session.commit()

    now = [0.0]
    turns = Turns(costly_seconds=0.15, share=0.1, quiet_seconds=1.0, clock=lambda: now[0])
    hooks = AlertListeners([_slow_in(costly)])
    # the costly request, then the cheap one: the costly workspace waits nine times 0.3 s
    assert process_pending(session_factory, listeners=hooks, limit=10, turns=turns) == 2
    assert turns.waiting() == {costly.workspace.id}
    # nobody else waits, but a cheap request was processed just now: no early turn
    now[0] = 0.5
    assert process_pending(session_factory, listeners=hooks, limit=10, turns=turns) == 0
    # quiet for a second: the costly workspace goes on before its wait is over
    now[0] = 1.0
    assert process_pending(session_factory, listeners=hooks, limit=10, turns=turns) == 1


def test_a_batch_loads_the_open_alerts_of_its_aliases_and_its_ids_only(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    left, right = _principal(session, "Left"), _principal(session, "Right")
    for principal in (left, right):
        for alias in ("disk", "cpu", "net"):
            _create(session, principal, alias)
    session.commit()
    assert process_pending(session_factory, listeners=AlertListeners([]), per_workspace=BATCH) == 6
    closed = session.scalars(
        select(Alert).where(Alert.workspace_id == left.workspace.id, Alert.alias == "net")
    ).one()
    closed.status = AlertStatus.CLOSED
    session.commit()
    named = [
        _FakeRequest(left.workspace.id, "disk", None),
        _FakeRequest(left.workspace.id, "net", None),  # closed: not an open alert of its alias
        _FakeRequest(left.workspace.id, None, closed.public_id),  # by id, closed or not
        _FakeRequest(right.workspace.id, "cpu", None),
    ]
    known = KnownAlerts.load(session, named)  # type: ignore[arg-type]
    found = sorted((a.workspace_id == left.workspace.id, a.alias, a.status) for a in known.alerts())
    assert found == [
        (False, "cpu", AlertStatus.OPEN),
        (True, "disk", AlertStatus.OPEN),
        (True, "net", AlertStatus.CLOSED),
    ]


def test_sqlite_looks_a_batchs_aliases_up_in_the_index(session: Session) -> None:
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("SQLite's plan")
    # A row-value IN, (workspace_id, alias) IN (…), scans every alert SQLite holds.
    values = {"pairs": '[[1, "disk"]]', "public_ids": ["x"]}
    plan = explain(session, _NAMED["sqlite"], values)
    assert "SCAN alerts" not in plan, plan
    assert "ix_alerts_workspace_alias (workspace_id=? AND alias=?)" in plan, plan


class _FakeRequest:
    """The columns KnownAlerts.load reads of a pending request."""

    def __init__(self, workspace_id: int, alias: str | None, alert_public_id: str | None) -> None:
        self.workspace_id = workspace_id
        self.alias = alias
        self.alert_public_id = alert_public_id
