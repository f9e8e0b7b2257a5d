"""Delivery to Jira: ``worker``, ``outbox status|requeue|resume`` and ``resync``."""

from __future__ import annotations

import json
import logging
import signal
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import fields
from typing import Any
from typing import TypeVar

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

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Tuning:
    """A worker option: its flag, its range, and the setting it fills (whose default it shows)."""

    flag: str
    owner: type[Any]  # WorkerConfig, RetryPolicy or Pacing
    field: str
    kind: click.ParamType[Any]
    help: str | None = None

    @property
    def dest(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")

    def option(self) -> Callable[[F], F]:
        default = next(f.default for f in fields(self.owner) if f.name == self.field)
        return click.option(
            self.flag, self.dest, type=self.kind, default=default, show_default=True, help=self.help
        )


TUNING = (
    Tuning("--batch-size", WorkerConfig, "batch_size", click.IntRange(1, 1000)),
    Tuning("--lease-seconds", WorkerConfig, "lease_seconds", click.FloatRange(0.5)),
    Tuning("--max-attempts", RetryPolicy, "max_attempts", click.IntRange(1)),
    Tuning("--backoff-base", RetryPolicy, "base_delay", click.FloatRange(0)),
    Tuning("--backoff-max", RetryPolicy, "max_delay", click.FloatRange(0)),
    Tuning("--throttle-base", RetryPolicy, "throttle_base_delay", click.FloatRange(0)),
    Tuning("--throttle-max", RetryPolicy, "throttle_max_delay", click.FloatRange(0)),
    Tuning("--connect-timeout", WorkerConfig, "connect_timeout", click.FloatRange(0.1)),
    Tuning("--read-timeout", WorkerConfig, "read_timeout", click.FloatRange(0.1)),
    Tuning("--idle-max", WorkerConfig, "idle_sleep_max", click.FloatRange(0.01)),
    Tuning(
        "--coalesce-window",
        Pacing,
        "window",
        click.FloatRange(0),
        "seconds between batches to a site that was just sent some; changes meanwhile wait "
        "and go out together",
    ),
    Tuning(
        "--coalesce-burst",
        Pacing,
        "burst",
        click.IntRange(1, 100),
        "batches sent at once to a site that was idle",
    ),
    Tuning(
        "--settle",
        Pacing,
        "settle",
        click.FloatRange(0),
        "components and reviews go once none arrived for this long (incidents never wait)",
    ),
    Tuning(
        "--max-wait",
        Pacing,
        "max_wait",
        click.FloatRange(0),
        "the longest a component or review change waits for others to settle",
    ),
    Tuning(
        "--points-reserve",
        Pacing,
        "reserve_fraction",
        click.FloatRange(0, 1),
        "share of a site's hourly points quota kept for incidents; below it components and "
        "reviews wait for the next window",
    ),
)


def tuning_options(command: F) -> F:
    for tuning in reversed(TUNING):
        command = tuning.option()(command)
    return command


def worker_config(values: Mapping[str, Any]) -> WorkerConfig:
    """The worker's settings from the options' values, each into the setting its option names."""

    def of(owner: type[Any]) -> dict[str, Any]:
        return {t.field: values[t.dest] for t in TUNING if t.owner is owner}

    return WorkerConfig(
        retry=RetryPolicy(**of(RetryPolicy)), pacing=Pacing(**of(Pacing)), **of(WorkerConfig)
    )


@click.command("worker")
@tuning_options
@click.option(
    "--supervised",
    is_flag=True,
    hidden=True,
    help="started by `provider run`/`demo`, whose supervisor owns the second Ctrl-C",
)
def worker(supervised: bool, **tuning: Any) -> None:
    """Deliver the outbox to Jira (and run the other background jobs) until SIGTERM."""
    settings = _settings()
    configure_logging(settings.log_level)
    config = worker_config(tuning)
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
        logger.info(
            "worker started id=%s batch_size=%s", worker.outbox.worker_id, config.batch_size
        )
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
