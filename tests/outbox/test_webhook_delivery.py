"""Outgoing integration actions leave through the real worker, with the handler it runs."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.config import Settings
from provider.outbox.models import MessageStatus
from provider.outbox.models import OutboxMessage
from provider.outbox.queue import enqueue
from provider.outbox.retry import RetryPolicy
from provider.outbox.webhooks import WEBHOOK
from provider.outbox.webhooks import build_payload
from provider.outbox.worker import OutboxWorker
from provider.outbox.worker import WorkerConfig
from provider.outbox.worker import make_client_factory
from provider.worker import outbox_handlers
from tests.outbox.test_webhooks import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


def _worker(session_factory, settings: Settings) -> OutboxWorker:  # type: ignore[no-untyped-def]
    return OutboxWorker(
        session_factory,
        make_client_factory(settings),
        config=WorkerConfig(retry=RetryPolicy(base_delay=0.0, max_delay=0.0, max_attempts=2)),
        handlers=outbox_handlers(settings),
    )


def _enqueue(session: Session, url: str, n: int) -> None:
    enqueue(
        session,
        installation_id=None,
        kind=WEBHOOK,
        operation="send",
        entity_id=f"hook-{n}",
        payload=build_payload(url=url, body={"action": "Create", "n": n}, action_id="a1"),
    )


def test_the_worker_sends_each_webhook_once(
    session: Session, session_factory, settings: Settings, receiver: Receiver
) -> None:
    for n in range(3):
        _enqueue(session, f"{receiver.url}/hook", n)
    session.commit()

    worker = _worker(session_factory, settings)
    while worker.drain_once():
        pass

    assert sorted(json.loads(r["body"])["n"] for r in receiver.requests) == [0, 1, 2]
    session.expire_all()
    left = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == WEBHOOK)).all()
    assert left == []


def test_a_refusing_receiver_is_recorded_and_a_failing_one_dead_lettered(
    session: Session, session_factory, settings: Settings, receiver: Receiver
) -> None:
    receiver.responses["/gone"] = (410, {})
    receiver.responses["/broken"] = (500, {})
    _enqueue(session, f"{receiver.url}/gone", 1)
    _enqueue(session, f"{receiver.url}/broken", 2)
    session.commit()

    worker = _worker(session_factory, settings)
    for _ in range(10):
        worker.drain_once()

    session.expire_all()
    rows = {
        m.entity_id: m
        for m in session.scalars(select(OutboxMessage).where(OutboxMessage.kind == WEBHOOK))
    }
    assert rows["hook-1"].status == MessageStatus.FAILED
    assert "410" in (rows["hook-1"].last_error or "")
    assert rows["hook-2"].status == MessageStatus.DEAD
    assert [r["path"] for r in receiver.requests].count("/gone") == 1
    assert [r["path"] for r in receiver.requests].count("/broken") == 2
