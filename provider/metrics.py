"""Prometheus metrics: what the processes count, and the ``/metrics`` page that shows it.

One :class:`Metrics` object per process, built by a composition root (``create_app``,
``build_worker``) and handed to whoever counts, instead of the module-level metric globals of
prometheus_client's examples: nothing here is process-wide state, a test builds as many apps
and workers as it likes (each with its own registry), and what is counted is visible in the
signature of whoever counts it.

The one global left is prometheus_client's own: it picks, at import, whether values live in
memory or in files under ``PROMETHEUS_MULTIPROC_DIR`` (its multiprocess mode, which gunicorn's
several workers need to be scraped as one). That variable must therefore be set before the
process starts; the app's commands (``provider run``, ``provider web``, ``provider worker``) do
so, see :func:`provider.commands.core.metrics_env`. In that mode the web workers and a worker
process on the same machine write to one directory and every scrape, whichever web worker
answers it, sums them all.

Counters and histograms only: what is true *now* (messages pending per kind, points left per
site) is read from the database at scrape time by collectors the composition root passes to
:func:`init_app`, so it is the same whichever process answers and needs no live-gauge
bookkeeping for processes that died.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Protocol

from flask import Flask
from flask import Response
from flask import request
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client import CollectorRegistry
from prometheus_client import Counter
from prometheus_client import Histogram
from prometheus_client import generate_latest
from prometheus_client import multiprocess
from prometheus_client.metrics_core import Metric
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from provider import errors
from provider.extension import Extension
from provider.times import utcnow

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
DELIVERY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
METRICS_PATH = "/metrics"


class Collector(Protocol):
    """What prometheus_client calls at each scrape (its custom-collector interface)."""

    def collect(self) -> Iterable[Metric]: ...


class DatabaseCollector:
    """Base of the collectors that read what is true now from the database at each scrape."""

    def __init__(
        self, session_factory: sessionmaker[Session], clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.session_factory = session_factory
        self.clock = clock


class _Together:
    """Several collectors read as one, for one scrape (no registry to fill and forget)."""

    def __init__(self, collectors: Sequence[Collector]) -> None:
        self.collectors = collectors

    def collect(self) -> Iterator[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


class Metrics:
    """The counters and histograms of one process, in a registry of their own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.jira_requests = Counter(
            "provider_jira_requests",
            "Requests sent to Jira, by endpoint and outcome (HTTP status class or network).",
            ["endpoint", "outcome"],
            registry=r,
        )
        self.jira_seconds = Histogram(
            "provider_jira_request_seconds",
            "Time from sending a request to Jira to its answer.",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.jira_throttled = Counter(
            "provider_jira_throttled",
            "429 answers from Jira, by site and Jira's RateLimit-Reason.",
            ["site", "reason"],
            registry=r,
        )
        self.delivered = Counter(
            "provider_outbox_delivered",
            "Entities Jira accepted or rejected, by kind.",
            ["kind", "outcome"],
            registry=r,
        )
        self.delivery_seconds = Histogram(
            "provider_delivery_seconds",
            "Time from a change's commit (its outbox row) to Jira accepting it.",
            ["kind"],
            buckets=DELIVERY_BUCKETS,
            registry=r,
        )
        self.http_requests = Counter(
            "provider_http_requests",
            "Requests the web app answered, by endpoint and status (intake: the alert routes).",
            ["endpoint", "status"],
            registry=r,
        )
        self.worker_items = Counter(
            "provider_worker_items",
            "Work done by each worker job (processed alert requests, delivered messages, …).",
            ["job"],
            registry=r,
        )


METRICS: Extension[Metrics] = Extension("metrics")


def exposition(metrics: Metrics, collectors: Sequence[Collector], directory: str | None) -> bytes:
    """The text of one scrape: this process's metrics (or every process's), then the collectors."""
    if directory:
        summed = CollectorRegistry()
        multiprocess.MultiProcessCollector(summed, path=directory)  # type: ignore[no-untyped-call]
        counted = generate_latest(summed)
    else:
        counted = generate_latest(metrics.registry)
    return counted + generate_latest(_Together(collectors))


def prepare_directory(directory: str) -> None:
    """Create ``directory`` and empty it of an earlier run's files (before any process starts).

    Counters of a run that ended must not be added to a new one: prometheus_client's documented
    rule is to wipe the directory between runs.
    """
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()


def init_app(
    app: Flask,
    metrics: Metrics,
    *,
    token: str,
    directory: str | None,
    collectors: Sequence[Collector] = (),
) -> None:
    """Count every answer and serve ``/metrics`` to a scraper that brings ``token``.

    Without a token setting the page does not exist (404); a request without the right
    ``Authorization: Bearer <token>`` gets a 401. The comparison is constant-time.
    """
    METRICS.install(app, metrics)
    expected = token.encode()

    @app.after_request
    def _count(response: Response) -> Response:
        metrics.http_requests.labels(request.endpoint or "-", str(response.status_code)).inc()
        return response

    @app.get(METRICS_PATH)
    def scrape() -> Response | tuple[dict[str, object], int, dict[str, str]]:
        if not expected:
            raise errors.NotFound("The requested URL was not found on the server.")
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
            return (
                errors.body("unauthorized", "A valid metrics token is required."),
                401,
                {"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        return Response(exposition(metrics, collectors, directory), mimetype=CONTENT_TYPE_LATEST)
