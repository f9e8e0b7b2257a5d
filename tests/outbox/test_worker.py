"""The outbox worker against a fake Jira client at the client seam, on a real database."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from provider.connect.http import JiraHttpError
from provider.connect.http import JiraNetworkError
from provider.connect.models import Installation
from provider.jira.client import BulkResult
from provider.outbox import admin
from provider.outbox.budget import Pacing
from provider.outbox.models import DeliveryState
from provider.outbox.models import MessageStatus
from provider.outbox.outcomes import Part as _Part
from provider.outbox.retry import Action
from provider.outbox.retry import Decision
from provider.outbox.retry import RetryPolicy
from provider.outbox.worker import OutboxWorker
from provider.outbox.worker import WorkerConfig
from tests.outbox.helpers import Call
from tests.outbox.helpers import Clock
from tests.outbox.helpers import FakeJira
from tests.outbox.helpers import make_installation
from tests.outbox.helpers import messages
from tests.outbox.helpers import put

POLICY = RetryPolicy(
    base_delay=10, max_delay=100, max_attempts=3, throttle_base_delay=20, throttle_max_delay=100
)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def jira() -> FakeJira:
    return FakeJira()


# No pacing: these tests are about what is claimed, in what order (pacing has its own tests).
NO_PACING = Pacing(window=0, settle=0)


def _worker(
    session_factory: sessionmaker[Session], jira: FakeJira, clock: Clock, **config: object
) -> OutboxWorker:
    values: dict[str, object] = {"retry": POLICY, "lease_seconds": 60, "pacing": NO_PACING}
    values.update(config)
    return OutboxWorker(
        session_factory,
        jira.factory,
        config=WorkerConfig(**values),  # type: ignore[arg-type]
        clock=clock,
        rng=random.Random(1),
    )


def _state(session: Session, inst: Installation) -> DeliveryState:
    session.expire_all()
    return session.scalars(
        select(DeliveryState).where(DeliveryState.installation_id == inst.id)
    ).one()


def test_delivers_in_order_linked_workspaces_components_incidents_reviews(
    session: Session, session_factory, jira, clock
) -> None:
    inst = make_installation(session)
    put(session, inst, "review", "r1")
    put(session, inst, "incident", "i1")
    put(session, inst, "component", "c1")
    put(session, inst, "linked_workspace", "ws-1")
    session.commit()

    handled = _worker(session_factory, jira, clock).drain()

    assert handled == 4
    assert [c.method for c in jira.calls] == [
        "submit_linked_workspaces",
        "submit_components",
        "submit_incidents",
        "submit_reviews",
    ]
    assert all(c.properties == {"workspaceId": "ws-1"} for c in jira.bulk_calls()[1:])
    assert messages(session) == []
    assert _state(session, inst).last_success_at == clock.now


def test_batches_are_per_installation_kind_and_workspace_and_capped(
    session: Session, session_factory, jira, clock
) -> None:
    a, b = make_installation(session), make_installation(session)
    for i in range(25):
        put(session, a, "component", f"c{i}", group_key="ws-1")
    for i in range(3):
        put(session, a, "component", f"d{i}", group_key="ws-2")
        put(session, b, "component", f"c{i}", group_key="ws-1")
    session.commit()

    _worker(session_factory, jira, clock, batch_size=10).drain()

    sizes = [
        (c.client_key == a.client_key, c.properties["workspaceId"], len(c.ids)) for c in jira.calls
    ]  # type: ignore[index]
    assert sorted(sizes) == sorted(
        [
            (True, "ws-1", 10),
            (True, "ws-1", 10),
            (True, "ws-1", 5),
            (True, "ws-2", 3),
            (False, "ws-1", 3),
        ]
    )
    assert messages(session) == []


def test_entities_jira_rejects_keep_jiras_message_and_are_not_retried(
    session: Session, session_factory, clock
) -> None:
    def script(call: Call) -> BulkResult:
        return BulkResult(
            accepted=["i1"], failed={"i2": ["summary is too long"]}, unknown_project_keys=["OPS"]
        )

    jira = FakeJira(script)
    inst = make_installation(session)
    put(session, inst, "incident", "i1")
    put(session, inst, "incident", "i2")
    session.commit()
    worker = _worker(session_factory, jira, clock)

    worker.drain()
    clock.advance(3600)
    worker.drain()

    (failed,) = messages(session)
    assert (failed.entity_id, failed.status) == ("i2", MessageStatus.FAILED)
    assert failed.last_error == "summary is too long"
    assert len(jira.calls) == 1
    assert _state(session, inst).unknown_project_keys == ["OPS"]
    (status,) = [s for s in admin.outbox_status(session) if s.client_key == inst.client_key]
    assert status.counts["failed"] == 1
    assert status.unknown_project_keys == ["OPS"]
    (problem,) = admin.problems(session, inst)
    assert problem["entityId"] == "i2"
    assert problem["error"] == "summary is too long"
    assert admin.problems(session, make_installation(session)) == []  # another site sees nothing


def test_a_newer_version_delivered_supersedes_an_older_failed_one(
    session: Session, session_factory, clock
) -> None:
    reject = {"value": True}
    jira = FakeJira(lambda c: BulkResult(failed={"i1": ["bad"]}) if reject["value"] else None)
    inst = make_installation(session)
    put(session, inst, "incident", "i1", usn=1)
    session.commit()
    worker = _worker(session_factory, jira, clock)
    worker.drain()
    reject["value"] = False
    put(session, inst, "incident", "i1", usn=2)
    session.commit()

    worker.drain()

    assert messages(session) == []


def test_a_change_made_while_in_flight_is_kept_and_sent_after(
    session: Session, session_factory, clock
) -> None:
    inst = make_installation(session)
    put(session, inst, "incident", "i1", usn=1)
    session.commit()
    worker_box: dict[str, OutboxWorker] = {}
    seen: list[int] = []

    def script(call: Call) -> None:
        seen.append(call.payloads[0]["updateSequenceNumber"])
        if len(seen) == 1:
            # While version 1 is on the wire, version 2 is enqueued and must not be claimable.
            with session_factory.begin() as other:
                put(other, inst, "incident", "i1", usn=2)
            assert worker_box["w"].claim() is None

    jira = FakeJira(script)
    worker_box["w"] = worker = _worker(session_factory, jira, clock)

    assert worker.drain_once() == 1
    (pending,) = messages(session)
    assert pending.status == MessageStatus.PENDING
    assert pending.payload["updateSequenceNumber"] == 2
    worker.drain()
    assert seen == [1, 2]
    assert messages(session) == []


def test_an_expired_lease_makes_messages_claimable_again(
    session: Session, session_factory, jira, clock
) -> None:
    inst = make_installation(session)
    put(session, inst, "component", "c1")
    session.commit()
    crashed = _worker(session_factory, jira, clock)
    claim = crashed.claim()  # the crashed worker never records anything
    assert claim is not None
    assert _worker(session_factory, jira, clock).drain() == 0  # the lease is alive

    clock.advance(61)
    survivor = _worker(session_factory, jira, clock)
    assert survivor.drain() == 1
    assert messages(session) == []
    # The crashed worker's late failure report changes nothing: it no longer holds the rows.
    put(session, inst, "component", "c1", usn=2)
    session.commit()
    crashed._record(claim, [_Part(claim.batch.messages, decision=Decision(Action.FAIL, "late"))])
    (newer,) = messages(session)
    assert (newer.status, newer.payload["updateSequenceNumber"]) == ("pending", 2)


def test_an_expired_older_version_is_dropped_when_a_newer_change_exists(
    session: Session, session_factory, jira, clock
) -> None:
    inst = make_installation(session)
    put(session, inst, "component", "c1", usn=1)
    session.commit()
    assert _worker(session_factory, jira, clock).claim() is not None
    put(session, inst, "component", "c1", operation="delete", payload={"id": "c1"})
    session.commit()

    clock.advance(61)
    _worker(session_factory, jira, clock).drain()

    # Only the delete went out: re-sending the stale submit would re-create the component.
    assert [c.method for c in jira.calls] == ["delete_component"]
    assert messages(session) == []


def test_429_holds_back_only_that_installation_for_retry_after(
    session: Session, session_factory, clock
) -> None:
    throttled, other = make_installation(session), make_installation(session)

    def script(call: Call) -> None:
        if call.client_key == throttled.client_key:
            raise JiraHttpError(429, "[]", retry_after=30)

    jira = FakeJira(script)
    put(session, throttled, "incident", "i1")
    put(session, other, "incident", "i1")
    session.commit()
    worker = _worker(session_factory, jira, clock)

    worker.drain()
    assert [c.client_key for c in jira.calls] == [throttled.client_key, other.client_key]
    (left,) = messages(session)
    assert (left.installation_id, left.status, left.attempts) == (throttled.id, "pending", 0)
    assert _state(session, throttled).not_before == clock.now + timedelta(seconds=30)

    clock.advance(29)
    worker.drain()
    assert len(jira.calls) == 2
    clock.advance(2)
    jira.script = lambda c: None
    worker.drain()
    assert len(jira.calls) == 3
    assert messages(session) == []
    assert _state(session, throttled).throttle_count == 0


def test_429_without_retry_after_backs_off_exponentially(
    session: Session, session_factory, clock
) -> None:
    jira = FakeJira(lambda c: (_ for _ in ()).throw(JiraHttpError(503, "maintenance")))
    inst = make_installation(session)
    put(session, inst, "incident", "i1")
    session.commit()
    worker = _worker(session_factory, jira, clock)
    waits = []
    for _ in range(3):
        worker.drain()
        state = _state(session, inst)
        waits.append((state.not_before - clock.now).total_seconds())  # type: ignore[operator]
        clock.now = state.not_before  # type: ignore[assignment]
    # Equal jitter: each wait lies in [step/2, step] with step = 20, 40, 80.
    assert 10 <= waits[0] <= 20
    assert 20 <= waits[1] <= 40
    assert 40 <= waits[2] <= 80
    assert messages(session)[0].attempts == 0  # throttling never dead-letters


def test_413_splits_in_halves_and_a_single_oversized_entity_fails(
    session: Session, session_factory, jira, clock
) -> None:
    jira.max_entities = 3
    inst = make_installation(session)
    for i in range(10):
        put(session, inst, "component", f"c{i}")
    session.commit()

    _worker(session_factory, jira, clock).drain()

    sizes = [len(c.ids) for c in jira.calls]
    assert sizes == [10, 5, 2, 3, 5, 2, 3]
    assert messages(session) == []

    jira.max_entities = 0
    put(session, inst, "component", "huge")
    session.commit()
    _worker(session_factory, jira, clock).drain()
    (failed,) = messages(session)
    assert failed.status == MessageStatus.FAILED
    assert "Data is too large" in (failed.last_error or "")


def test_5xx_and_network_errors_back_off_then_dead_letter_and_can_be_requeued(
    session: Session, session_factory, clock
) -> None:
    errors = iter([JiraHttpError(500, "boom"), JiraNetworkError("reset"), JiraHttpError(502, "")])

    def script(call: Call) -> None:
        raise next(errors)

    jira = FakeJira(script)
    inst = make_installation(session)
    put(session, inst, "incident", "i1")
    session.commit()
    worker = _worker(session_factory, jira, clock)

    worker.drain()
    (m,) = messages(session)
    assert (m.status, m.attempts) == ("pending", 1)
    assert 5 <= (m.next_attempt_at - clock.now).total_seconds() <= 10  # type: ignore[operator]
    worker.drain()
    assert len(jira.calls) == 1  # not before its next attempt
    clock.now = m.next_attempt_at  # type: ignore[assignment]
    worker.drain()
    (m,) = messages(session)
    assert m.attempts == 2
    clock.now = m.next_attempt_at  # type: ignore[assignment]
    worker.drain()
    (m,) = messages(session)
    assert (m.status, m.attempts) == ("dead", 3)
    assert "502" in (m.last_error or "")

    assert admin.requeue(session, statuses=(MessageStatus.DEAD,)) == 1
    session.commit()
    jira.script = lambda c: None
    worker.drain()
    assert messages(session) == []


@pytest.mark.parametrize("status", [401, 403])
def test_401_and_403_pause_the_installation_until_resumed(
    session: Session, session_factory, clock, status: int
) -> None:
    jira = FakeJira(lambda c: (_ for _ in ()).throw(JiraHttpError(status, '[{"message": "no"}]')))
    inst = make_installation(session)
    put(session, inst, "incident", "i1")
    session.commit()
    worker = _worker(session_factory, jira, clock)

    worker.drain()
    clock.advance(3600)
    worker.drain()

    assert len(jira.calls) == 1
    session.expire_all()
    assert inst.delivery_paused_at is not None
    assert str(status) in (inst.delivery_paused_reason or "")
    assert inst.to_json()["deliveryPaused"] is True
    (m,) = messages(session)
    assert (m.status, m.attempts) == ("pending", 0)

    admin.resume(session, inst)
    session.commit()
    jira.script = lambda c: None
    worker.drain()
    assert messages(session) == []


def test_request_level_400_fails_the_batch_with_jiras_message(
    session: Session, session_factory, clock
) -> None:
    jira = FakeJira(
        lambda c: (_ for _ in ()).throw(JiraHttpError(400, '[{"message": "Bad format"}]'))
    )
    inst = make_installation(session)
    put(session, inst, "incident", "i1")
    put(session, inst, "incident", "i2")
    session.commit()

    _worker(session_factory, jira, clock).drain()

    assert {(m.status, m.last_error) for m in messages(session)} == {
        ("failed", "HTTP 400: Bad format")
    }


def test_uninstalled_disabled_and_unknown_kinds_are_not_sent(
    session: Session, session_factory, jira, clock
) -> None:
    gone = make_installation(session, installed=False)
    disabled = make_installation(session, enabled=False)
    live = make_installation(session)
    put(session, gone, "incident", "i1")
    put(session, disabled, "incident", "i1")
    put(session, live, "mystery", "x1")
    session.commit()

    assert _worker(session_factory, jira, clock).drain() == 0
    assert jira.calls == []


def test_deletes_go_one_by_one_and_404_counts_as_done(
    session: Session, session_factory, clock
) -> None:
    def script(call: Call) -> None:
        if call.ids == ["gone"]:
            raise JiraHttpError(404, "")

    jira = FakeJira(script)
    inst = make_installation(session)
    put(session, inst, "incident", "i1", operation="delete", payload={"id": "i1"})
    put(session, inst, "incident", "gone", operation="delete", payload={"id": "gone"})
    session.commit()

    _worker(session_factory, jira, clock).drain()

    assert [(c.method, c.ids) for c in jira.calls] == [
        ("delete_incident", ["i1"]),
        ("delete_incident", ["gone"]),
    ]
    assert messages(session) == []


def test_unlinking_deletes_the_link_and_the_data_by_property(
    session: Session, session_factory, jira, clock
) -> None:
    inst = make_installation(session)
    put(session, inst, "linked_workspace", "ws-9", operation="delete", group_key="ws-9")
    session.commit()

    _worker(session_factory, jira, clock).drain()

    assert [(c.method, c.ids, c.properties) for c in jira.calls] == [
        ("delete_linked_workspaces", ["ws-9"], None),
        ("delete_operations_by_properties", [], {"workspaceId": "ws-9"}),
        ("delete_components_by_properties", [], {"workspaceId": "ws-9"}),
    ]


def test_a_secret_that_cannot_be_decrypted_pauses_the_site(
    session: Session, session_factory, clock, settings
) -> None:
    from provider.outbox.worker import make_client_factory

    inst = make_installation(session, shared_secret_encrypted="not-a-fernet-token")
    put(session, inst, "incident", "i1")
    session.commit()
    worker = OutboxWorker(session_factory, make_client_factory(settings), clock=clock)

    worker.drain()

    session.expire_all()
    assert inst.delivery_paused_at is not None
    assert "SECRET_KEY" in (inst.delivery_paused_reason or "")


def test_one_batch_per_installation_in_flight_while_other_sites_flow(
    session: Session, session_factory, jira, clock
) -> None:
    a, b = make_installation(session), make_installation(session)
    put(session, a, "component", "c1")
    put(session, a, "incident", "i1")
    put(session, b, "incident", "i1")
    session.commit()
    worker = _worker(session_factory, jira, clock)

    first = worker.claim()
    second = worker.claim()

    assert first is not None
    assert second is not None
    assert (first.batch.installation_id, first.batch.kind) == (a.id, "component")
    assert (second.batch.installation_id, second.batch.kind) == (b.id, "incident")
    assert worker.claim() is None  # a's incident waits for a's batch in flight


def test_other_kinds_plug_into_the_registry_without_a_site(
    session: Session, session_factory, jira, clock
) -> None:
    from provider.outbox.handlers import HANDLERS
    from provider.outbox.handlers import Batch
    from provider.outbox.handlers import KindSpec
    from provider.outbox.handlers import Outcome

    seen: list[tuple[list[str], object]] = []
    failures = iter([ConnectionError("refused")])

    def send_webhooks(batch: Batch, client: object) -> Outcome:
        seen.append(([m.entity_id for m in batch.messages], client))
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return Outcome(accepted={m.entity_id for m in batch.messages})

    handlers = {**HANDLERS, "webhook": KindSpec(send_webhooks, priority=10, needs_jira=False)}
    put(session, None, "webhook", "req-1", payload={"url": "https://hooks.example.com"})
    session.commit()
    worker = OutboxWorker(
        session_factory,
        jira.factory,
        config=WorkerConfig(retry=POLICY),
        handlers=handlers,
        clock=clock,
        rng=random.Random(1),
    )

    worker.drain()
    (m,) = messages(session)
    assert (m.status, m.attempts) == ("pending", 1)
    assert "ConnectionError: refused" in (m.last_error or "")
    clock.now = m.next_attempt_at  # type: ignore[assignment]
    worker.drain()

    assert seen == [(["req-1"], None), (["req-1"], None)]
    assert messages(session) == []
    assert jira.calls == []
