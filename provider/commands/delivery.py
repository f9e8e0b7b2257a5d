"""Delivery to Jira: ``worker``, ``outbox status|requeue|resume`` and ``resync``."""

from __future__ import annotations

import json
import logging
import signal
import threading

import click
from sqlalchemy.orm import Session

from provider.commands.core import _settings
from provider.commands.core import session_factory
from provider.connect.models import Installation
from provider.errors import NotFound
from provider.logging import configure_logging
from provider.ops.sync import service as sync
from provider.outbox import admin
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
@click.option("--idle-max", type=click.FloatRange(0.01), default=1.0, show_default=True)
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
    )
    worker = build_worker(settings, config=config)

    stop = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        logger.info("worker stopping after the current batch (signal %s)", signum)
        stop.set()
        # A second Ctrl-C interrupts the batch: its messages keep their lease and go out again
        # once it expires. Under a supervisor a repeat is the same stop arriving twice (systemd or
        # a PaaS signals every process, and the supervisor forwards its own copy); the supervisor
        # kills on a real second Ctrl-C. An interrupt landing mid-transaction could otherwise
        # leave the SQLite writer queue held and the worker hanging until it is killed.
        if not supervised:
            signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    logger.info("worker started id=%s batch_size=%s", worker.outbox.worker_id, batch_size)
    try:
        worker.run(stop)
    except KeyboardInterrupt:
        logger.warning("worker interrupted during a batch")
        raise SystemExit(1) from None
    logger.info("worker stopped")


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
