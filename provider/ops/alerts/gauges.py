"""The alert requests waiting for the worker, read from the database at each scrape."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import func
from sqlalchemy import select

from provider.metrics import DatabaseCollector
from provider.ops.alerts.models import AlertRequest
from provider.ops.alerts.models import RequestState


class AlertRequestGauges(DatabaseCollector):
    """A prometheus_client collector: pending alert requests and the age of the oldest."""

    def collect(self) -> Iterator[Metric]:
        with self.session_factory() as session:
            count, first = session.execute(
                select(func.count(), func.min(AlertRequest.created_at)).where(
                    AlertRequest.state == RequestState.PENDING
                )
            ).one()
        yield GaugeMetricFamily(
            "provider_alert_requests_pending",
            "Alert requests accepted (202) and not yet processed.",
            value=count,
        )
        age = (self.clock() - first).total_seconds() if first is not None else 0.0
        yield GaugeMetricFamily(
            "provider_alert_requests_oldest_pending_seconds",
            "Age of the oldest alert request not yet processed.",
            value=max(0.0, age),
        )
