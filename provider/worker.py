"""The worker's composition root, as ``provider.app`` is the web app's: what the worker runs.

:func:`build_worker` assembles, explicitly and once, the outbox handlers (Jira kinds and
outgoing webhooks), the listeners alert processing calls after every change, and the jobs the
worker loop runs in turn. Nothing is registered at import time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from provider.config import Settings
from provider.db import make_session_factory
from provider.metrics import Metrics
from provider.ops.alerts.claims import Turns
from provider.ops.alerts.listeners import AlertListeners
from provider.ops.alerts.processing import COSTLY_SECONDS
from provider.ops.alerts.processing import batch_seconds_for
from provider.ops.alerts.processing import process_pending
from provider.ops.heartbeats import expiry as heartbeats
from provider.ops.incidents import listener as incident_listener
from provider.ops.incidents import promotion as incidents
from provider.ops.incidents import timeline
from provider.ops.integrations import ingestion
from provider.ops.sync.links import bind_links
from provider.outbox import issues
from provider.outbox import webhooks
from provider.outbox.handlers import HANDLERS
from provider.outbox.handlers import KindSpec
from provider.outbox.kinds import Kind
from provider.outbox.worker import ClientFactory
from provider.outbox.worker import OutboxWorker
from provider.outbox.worker import StopFlag
from provider.outbox.worker import Tick
from provider.outbox.worker import WorkerConfig
from provider.outbox.worker import make_client_factory
from provider.outbox.worker import run_loop

# Small enough that under a steady stream of alerts the worker's other jobs (the outbox drain)
# still run every few hundred milliseconds instead of waiting behind thousands of requests: a
# request costs about 1 ms of a batch in a storm, and a batch stops taking requests after
# ``processing.BATCH_SECONDS``. Large enough that what a batch pays once (its claim, the
# workspaces' rules, publishing the incidents it changed) is spread over many requests: 250
# rather than 100 processed a sixth more a second in the PostgreSQL storm.
ALERT_BATCH = 250


def alert_listeners() -> AlertListeners:
    """What follows each alert change: incidents first, then outgoing integration actions."""
    incidents = incident_listener.IncidentsListener()
    outgoing = ingestion.OutgoingActions()
    return AlertListeners(
        [incidents, outgoing],
        prepare=[incidents.prepare, outgoing.prepare],
        finish=[incidents.finish, outgoing.finish],
    )


def outbox_handlers(settings: Settings) -> dict[str, KindSpec]:
    """Every outbox kind the worker delivers: Jira's, issue updates and outgoing webhooks."""
    return {
        **HANDLERS,
        Kind.ISSUE: issues.KIND_SPEC,
        webhooks.WEBHOOK: webhooks.kind_spec(settings),
    }


@dataclass(frozen=True)
class Worker:
    """The jobs of one worker process, run in turn by :meth:`run`."""

    outbox: OutboxWorker
    jobs: Sequence[Tick]
    config: WorkerConfig
    metrics: Metrics

    def run(self, stop: StopFlag) -> None:
        """Run until ``stop`` is set, sleeping only while every job is idle."""
        run_loop(
            [counted(job, self.metrics) for job in self.jobs],
            stop,
            idle_sleep_min=self.config.idle_sleep_min,
            idle_sleep_max=self.config.idle_sleep_max,
        )

    def run_once(self) -> int:
        """Run every job once; how much work they did (tests drive the worker this way)."""
        return sum(counted(job, self.metrics)() for job in self.jobs)


def counted(job: Tick, metrics: Metrics) -> Tick:
    """``job``, counting the work it reports in ``provider_worker_items_total{job=…}``."""
    name = getattr(job, "__name__", "job")
    items = metrics.worker_items.labels(name)

    def tick() -> int:
        done = job()
        if done:
            items.inc(done)
        return done

    tick.__name__ = name
    return tick


def build_worker(
    settings: Settings,
    *,
    session_factory: sessionmaker[Session] | None = None,
    client_factory: ClientFactory | None = None,
    config: WorkerConfig | None = None,
    metrics: Metrics | None = None,
) -> Worker:
    """Assemble the worker: the outbox drain, heartbeat expiry, alert requests, promotion.

    Alert requests come after the drain and expiry and before promotion, which sees the alerts
    they opened.
    """
    config = config or WorkerConfig()
    metrics = metrics or Metrics()
    factory = bind_links(session_factory or make_session_factory(settings), settings.base_url)
    outbox = OutboxWorker(
        factory,
        client_factory or make_client_factory(settings, config),
        config=config,
        handlers=outbox_handlers(settings),
        # Each final outcome of an incident's deliveries goes on its timeline.
        observer=timeline.on_delivered,
        metrics=metrics,
    )
    listeners = alert_listeners()
    # This worker's memory of which workspaces' requests proved costly, across its ticks.
    turns = Turns(costly_seconds=COSTLY_SECONDS)
    batch_time = batch_seconds_for(factory)

    def process_alert_requests() -> int:
        return process_pending(
            factory,
            listeners=listeners,
            limit=ALERT_BATCH,
            turns=turns,
            batch_seconds=batch_time,
        )

    def promote_due_alerts() -> int:
        return incidents.promote_due(factory)

    def expire_heartbeats() -> int:
        return heartbeats.expire_due(factory)

    # Expiry comes before alert processing, so an expiry's alert is opened in the same round.
    jobs = (outbox.drain_once, expire_heartbeats, process_alert_requests, promote_due_alerts)
    return Worker(outbox, jobs, config, metrics)
