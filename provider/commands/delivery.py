"""Delivery to Jira: ``worker``, ``outbox status|requeue|resume`` and ``resync``."""

from __future__ import annotations

import json
import logging
import signal

import click
from sqlalchemy.orm import Session

from provider.commands.core import _settings
from provider.commands.core import session_factory
from provider.commands.stopping import SignalStop
from provider.connect.models import Installation
from provider.errors import NotFound
from provider.logging import configure_logging
from provider.ops.sync import service as sync
from provider.outbox import admin
from provider.outbox.budget import Pacing
from provider.outbox.models import MessageStatus
from provider.outbox.retry import RetryPolicy
from provider.outbox.worker import WorkerConfig
from provider.worker import build_worker

logger = logging.getLogger(__name__)


@click.command("worker")
@click.option("--batch-size", type=click.IntRange(1, 1000), default=1000, show_default=True)
@click.option("--lease-seconds", type=click.FloatRange(0.5), default=300.0, show_default=True)
@click.option("--max-attempts", type=click.IntRange(1), default=8, show_default=True)
@click.option("--backoff-base", type=click.FloatRange(0), default=2.0, show_default=True)
@click.option("--backoff-max", type=click.FloatRange(0), default=600.0, show_default=True)
@click.option("--throttle-base", type=click.FloatRange(0), default=5.0, show_default=True)
@click.option("--throttle-max", type=click.FloatRange(0), default=300.0, show_default=True)
@click.option("--connect-timeout", type=click.FloatRange(0.1), default=5.0, show_default=True)
@click.option("--read-timeout", type=click.FloatRange(0.1), default=30.0, show_default=True)
@click.option("--idle-max", type=click.FloatRange(0.01), default=0.5, show_default=True)
@click.option(
    "--coalesce-window",
    type=click.FloatRange(0),
    default=1.0,
    show_default=True,
    help="seconds between batches to a site that was just sent some; changes meanwhile wait "
    "and go out together",
)
@click.option(
    "--coalesce-burst",
    type=click.IntRange(1, 100),
    default=2,
    show_default=True,
    help="batches sent at once to a site that was idle",
)
@click.option(
    "--settle",
    type=click.FloatRange(0),
    default=2.0,
    show_default=True,
    help="components and reviews go once none arrived for this long (incidents never wait)",
)
@click.option(
    "--max-wait",
    type=click.FloatRange(0),
    default=30.0,
    show_default=True,
    help="the longest a component or review change waits for others to settle",
)
@click.option(
    "--points-reserve",
    type=click.FloatRange(0, 1),
    default=0.1,
    show_default=True,
    help="share of a site's hourly points quota kept for incidents; below it components and "
    "reviews wait for the next window",
)
@click.option(
    "--supervised",
    is_flag=True,
    hidden=True,
    help="started by `provider run`/`demo`, whose supervisor owns the second Ctrl-C",
)
def worker(
    batch_size: int,
    lease_seconds: float,
    max_attempts: int,
    backoff_base: float,
    backoff_max: float,
    throttle_base: float,
    throttle_max: float,
    connect_timeout: float,
    read_timeout: float,
    idle_max: float,
    coalesce_window: float,
    coalesce_burst: int,
    settle: float,
    max_wait: float,
    points_reserve: float,
    supervised: bool,
) -> None:
    """Deliver the outbox to Jira (and run the other background jobs) until SIGTERM."""
    settings = _settings()
    configure_logging(settings.log_level)
    config = WorkerConfig(
        batch_size=batch_size,
        lease_seconds=lease_seconds,
        retry=RetryPolicy(
            base_delay=backoff_base,
            max_delay=backoff_max,
            max_attempts=max_attempts,
            throttle_base_delay=throttle_base,
            throttle_max_delay=throttle_max,
        ),
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        idle_sleep_max=idle_max,
        pacing=Pacing(
            window=coalesce_window,
            burst=coalesce_burst,
            settle=settle,
            max_wait=max_wait,
            reserve_fraction=points_reserve,
        ),
    )
    worker = build_worker(settings, config=config)

    def _interruptible(_signum: int) -> None:
        # A second Ctrl-C interrupts the batch: its messages keep their lease and go out again
        # once it expires. Under a supervisor a repeat is the same stop arriving twice (systemd or
        # a PaaS signals every process, and the supervisor forwards its own copy); the supervisor
        # kills on a real second Ctrl-C. An interrupt landing mid-transaction could otherwise
        # leave the SQLite writer queue held and the worker hanging until it is killed.
        if not supervised:
            signal.signal(signal.SIGINT, signal.default_int_handler)

    with SignalStop(on_signal=_interruptible) as stop:
        logger.info("worker started id=%s batch_size=%s", worker.outbox.worker_id, batch_size)
        try:
            worker.run(stop)
        except KeyboardInterrupt:
            logger.warning("worker interrupted during a batch")
            raise SystemExit(1) from None
    logger.info("worker stopped after its current batch (signal %s)", stop.signum)


@click.group("outbox")
def outbox_group() -> None:
    """Inspect and operate the queue of pushes to Jira."""


@outbox_group.command("status")
def outbox_status() -> None:
    """Print one JSON object per installation: counts by status, pause, throttle, last success."""
    factory = session_factory(_settings())
    with factory() as session:
        for entry in admin.outbox_status(session):
            click.echo(json.dumps(entry.to_json()))


@outbox_group.command("problems")
@click.option("--client-key", required=True)
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
def outbox_problems(client_key: str, limit: int) -> None:
    """Print the messages Jira rejected or that ran out of retries, with Jira's message."""
    factory = session_factory(_settings())
    with factory() as session:
        installation = _installation(session, client_key)
        for problem in admin.problems(session, installation, limit=limit):
            click.echo(json.dumps(problem))


@outbox_group.command("requeue")
@click.option("--client-key", default=None, help="only this installation (default: all)")
@click.option("--dead", "which", flag_value="dead", help="only dead-lettered messages")
@click.option("--failed", "which", flag_value="failed", help="only messages Jira rejected")
def outbox_requeue(client_key: str | None, which: str | None) -> None:
    """Send dead-lettered and/or rejected messages again."""
    statuses = (MessageStatus(which),) if which else (MessageStatus.DEAD, MessageStatus.FAILED)
    factory = session_factory(_settings())
    with factory.begin() as session:
        installation = _installation(session, client_key) if client_key else None
        count = admin.requeue(session, installation=installation, statuses=statuses)
    click.echo(f"re-queued {count} messages")


@outbox_group.command("resume")
@click.option("--client-key", required=True)
def outbox_resume(client_key: str) -> None:
    """Resume delivery to a site paused after Jira answered 401/403."""
    factory = session_factory(_settings())
    with factory.begin() as session:
        installation = _installation(session, client_key)
        admin.resume(session, installation)
    click.echo(f"delivery to {client_key} resumed")


@click.command("resync")
@click.option("--client-key", required=True)
def resync(client_key: str) -> None:
    """Re-send everything a site should have: linked workspaces, components, incidents, reviews."""
    factory = session_factory(_settings())
    total = 0
    with click.progressbar(sync.BACKFILL_STEPS, label="enqueueing", item_show_func=_label) as steps:
        for _label_text, step in steps:
            # One transaction per family: a failure midway keeps what was enqueued so far.
            with factory.begin() as session:
                installation = _installation(session, client_key)
                total += sync.run_backfill_step(session, installation, step)
    click.echo(f"enqueued {total} messages for {client_key}; the worker delivers them")


def _label(item: tuple[str, object] | None) -> str | None:
    return item[0] if item else None


def _installation(session: Session, client_key: str) -> Installation:
    try:
        return admin.require_installation(session, client_key)
    except NotFound as e:
        raise click.ClickException(e.message) from None


COMMANDS = [worker, outbox_group, resync]
