"""``provider outbox status|requeue|resume`` as real subprocesses against a real database."""

from __future__ import annotations

import json
from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import select

from provider.commands.delivery import TUNING
from provider.commands.delivery import worker
from provider.commands.delivery import worker_config
from provider.db import make_engine
from provider.db import make_session_factory
from provider.outbox.budget import Pacing
from provider.outbox.budget import ensure_delivery_state
from provider.outbox.models import MessageStatus
from provider.outbox.models import OutboxMessage
from provider.outbox.retry import RetryPolicy
from provider.outbox.worker import WorkerConfig
from provider.times import utcnow
from tests.commands.test_core import run_cli
from tests.outbox.helpers import make_installation
from tests.outbox.helpers import put


def _status(url: str) -> dict[str, dict]:
    result = run_cli(url, "outbox", "status")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    return {r["clientKey"]: r for r in rows}


def test_status_requeue_and_resume(fresh_database_url: str) -> None:
    engine = make_engine(fresh_database_url)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        paused = make_installation(
            session, delivery_paused_at=utcnow(), delivery_paused_reason="Jira answered 401"
        )
        other = make_installation(session)
        put(session, paused, "incident", "i1").status = MessageStatus.DEAD
        put(session, paused, "incident", "i2").status = MessageStatus.FAILED
        put(session, paused, "incident", "i3")
        put(session, other, "component", "c1").status = MessageStatus.FAILED
        keys = (paused.client_key, other.client_key)

    status = _status(fresh_database_url)
    assert (status[keys[0]]["dead"], status[keys[0]]["failed"], status[keys[0]]["pending"]) == (
        1,
        1,
        1,
    )
    assert status[keys[0]]["paused"] is True
    assert status[keys[0]]["pausedReason"] == "Jira answered 401"
    assert status[keys[1]]["paused"] is False

    result = run_cli(fresh_database_url, "outbox", "problems", "--client-key", keys[0])
    assert result.returncode == 0, result.stderr
    problems = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted((p["entityId"], p["status"]) for p in problems) == [
        ("i1", "dead"),
        ("i2", "failed"),
    ]

    result = run_cli(fresh_database_url, "outbox", "requeue", "--client-key", keys[0], "--dead")
    assert result.returncode == 0, result.stderr
    assert "re-queued 1 messages" in result.stdout
    status = _status(fresh_database_url)
    assert (status[keys[0]]["dead"], status[keys[0]]["failed"], status[keys[0]]["pending"]) == (
        0,
        1,
        2,
    )
    assert status[keys[1]]["failed"] == 1  # another installation is untouched

    result = run_cli(fresh_database_url, "outbox", "requeue")
    assert "re-queued 2 messages" in result.stdout

    result = run_cli(fresh_database_url, "outbox", "resume", "--client-key", keys[0])
    assert result.returncode == 0, result.stderr
    assert _status(fresh_database_url)[keys[0]]["paused"] is False

    with factory() as session:
        assert all(
            m.status == MessageStatus.PENDING and m.attempts == 0
            for m in session.scalars(select(OutboxMessage))
        )
    engine.dispose()


def test_unknown_client_key_is_a_readable_error(fresh_database_url: str) -> None:
    for args in (
        ("outbox", "resume", "--client-key", "jira:nope"),
        ("outbox", "requeue", "--client-key", "jira:nope"),
        ("resync", "--client-key", "jira:nope"),
    ):
        result = run_cli(fresh_database_url, *args)
        assert result.returncode == 1
        assert "no installation with client key 'jira:nope'" in result.stderr
        assert "Traceback" not in result.stderr


def test_provider_run_starts_the_worker_next_to_the_web_app(settings) -> None:  # type: ignore[no-untyped-def]
    from provider.commands.core import process_specs

    names = dict(process_specs(settings))
    assert names["worker"][-2:] == ["worker", "--supervised"]  # its supervisor owns a 2nd Ctrl-C
    assert "web" in names


def test_status_shows_the_pace_and_the_points_budget(fresh_database_url: str) -> None:
    engine = make_engine(fresh_database_url)
    factory = make_session_factory(engine)
    now = utcnow()
    with factory.begin() as session:
        near = make_installation(session)
        fresh = make_installation(session)
        state = ensure_delivery_state(session, near.id)
        state.points_quota, state.points_remaining, state.points_spent = 1000, 40, 960
        state.points_reset_at = state.points_low_until = now + timedelta(minutes=20)
        state.requests_total, state.throttled_total = 961, 1
        state.rate_limit_reason = "jira-quota-tenant-based"
        keys = (near.client_key, fresh.client_key)

    status = _status(fresh_database_url)
    budget = status[keys[0]]["budget"]
    assert budget["pointsQuota"] == 1000
    assert budget["pointsRemaining"] == 40
    assert budget["pointsSpent"] == 960
    assert budget["incidentsOnly"] is True
    assert budget["incidentsOnlyUntil"] == budget["pointsResetAt"]
    assert (budget["requests"], budget["throttled"]) == (961, 1)
    assert budget["rateLimitReason"] == "jira-quota-tenant-based"
    untouched = status[keys[1]]["budget"]
    assert untouched["pointsRemaining"] is None
    assert untouched["incidentsOnly"] is False
    assert untouched["requests"] == 0


def test_each_worker_option_fills_its_setting_and_shows_its_default() -> None:
    parsed = worker.make_context("worker", [], resilient_parsing=True).params
    assert worker_config(parsed) == WorkerConfig()

    argv = ["--batch-size", "7", "--backoff-base", "0.25", "--points-reserve", "0.5"]
    argv += ["--idle-max", "0.05", "--coalesce-burst", "3"]
    config = worker_config(worker.make_context("worker", argv).params)
    assert config.batch_size == 7
    assert config.idle_sleep_max == 0.05
    assert config.retry == RetryPolicy(base_delay=0.25)
    assert config.pacing == Pacing(reserve_fraction=0.5, burst=3)

    shown = CliRunner().invoke(worker, ["--help"]).output
    assert all(t.flag in shown for t in TUNING)
    assert "[default: 300.0; x>=0.5]" in shown  # --lease-seconds, from WorkerConfig
    assert "--batch-size INTEGER RANGE      [default: 1000; 1<=x<=1000]" in shown
