"""The worker tells its observer each final outcome, and an observer's failure changes nothing."""

from __future__ import annotations

import random
from collections.abc import Sequence

from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from provider.connect.http import JiraHttpError
from provider.jira.client import BulkResult
from provider.outbox.kinds import Delivered
from provider.outbox.models import MessageStatus
from provider.outbox.retry import RetryPolicy
from provider.outbox.worker import OutboxWorker
from provider.outbox.worker import WorkerConfig
from tests.outbox.helpers import Call
from tests.outbox.helpers import Clock
from tests.outbox.helpers import FakeJira
from tests.outbox.helpers import make_installation
from tests.outbox.helpers import messages
from tests.outbox.helpers import put

POLICY = RetryPolicy(base_delay=1, max_delay=1, max_attempts=2)


def _worker(
    session_factory: sessionmaker[Session], jira: FakeJira, clock: Clock, observer: object
) -> OutboxWorker:
    return OutboxWorker(
        session_factory,
        jira.factory,
        config=WorkerConfig(retry=POLICY),
        clock=clock,
        rng=random.Random(1),
        observer=observer,  # type: ignore[arg-type]
    )


def test_the_observer_hears_of_accepted_rejected_and_dead_lettered_messages(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    def script(call: Call) -> BulkResult:
        if call.method == "submit_reviews":
            raise JiraHttpError(500, "down")
        return BulkResult(accepted=["i1"], failed={"i2": ["summary is too long"]})

    heard: list[Delivered] = []
    inst = make_installation(session)
    for kind, entity in (("incident", "i1"), ("incident", "i2"), ("review", "r1")):
        put(session, inst, kind, entity)
    session.commit()
    clock = Clock()
    worker = _worker(session_factory, FakeJira(script), clock, lambda _s, d: heard.extend(d))

    worker.drain()
    clock.advance(60)
    worker.drain()

    assert sorted((d.kind, d.entity_id, d.ok, d.message) for d in heard) == [
        ("incident", "i1", True, ""),
        ("incident", "i2", False, "summary is too long"),
        ("review", "r1", False, "HTTP 500: down"),
    ]
    assert all(d.installation_id == inst.id for d in heard)
    # Retries on the way to the dead letter are not final: the review was heard of once.
    assert [m.status for m in messages(session) if m.entity_id == "r1"] == [MessageStatus.DEAD]


def test_an_observer_that_fails_does_not_undo_the_outcome(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    def broken(_session: Session, _delivered: Sequence[Delivered]) -> None:
        raise RuntimeError("the timeline is down")

    inst = make_installation(session)
    put(session, inst, "incident", "i1")
    session.commit()

    assert _worker(session_factory, FakeJira(), Clock(), broken).drain() == 1
    assert messages(session) == []
