"""What the outbox holds right now, read from the database at each scrape of ``/metrics``.

Counts per kind and status (pending, sending, failed, dead), the age of the oldest pending
change per kind, and per site what Jira's headers last said about its points budget. Read at
scrape time rather than kept in gauges by the worker, so every web worker answers the same and
a worker that died leaves nothing stale behind.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import func
from sqlalchemy import select

from provider.connect.models import Installation
from provider.metrics import DatabaseCollector
from provider.outbox.models import DeliveryState
from provider.outbox.models import MessageStatus
from provider.outbox.models import OutboxMessage


class OutboxGauges(DatabaseCollector):
    """A prometheus_client collector over the outbox and the sites' delivery states."""

    def collect(self) -> Iterator[Metric]:
        now = self.clock()
        messages = GaugeMetricFamily(
            "provider_outbox_messages",
            "Outbox messages by kind and status (pending, sending, failed, dead).",
            labels=["kind", "status"],
        )
        oldest = GaugeMetricFamily(
            "provider_outbox_oldest_pending_seconds",
            "Age of the oldest pending change, by kind.",
            labels=["kind"],
        )
        sites = {
            name: GaugeMetricFamily(f"provider_jira_{name}", text, labels=["site"])
            for name, text in (
                ("points_remaining", "Points left in the site's hourly quota, per Jira."),
                ("points_quota", "The site's hourly points quota, per Jira."),
                ("points_spent", "Points spent in the site's current quota window."),
                ("points_low", "1 while the site is near its quota and only incidents go."),
                ("throttled_seconds", "Seconds until a throttled site is sent to again."),
                ("delivery_paused", "1 while delivery to the site is paused (401/403)."),
            )
        }
        with self.session_factory() as session:
            seen: set[tuple[str, str]] = set()
            for kind, status, count, first in session.execute(
                select(
                    OutboxMessage.kind,
                    OutboxMessage.status,
                    func.count(),
                    func.min(OutboxMessage.created_at),
                ).group_by(OutboxMessage.kind, OutboxMessage.status)
            ):
                messages.add_metric([kind, str(status)], count)
                seen.add((kind, str(status)))
                if status == MessageStatus.PENDING and first is not None:
                    oldest.add_metric([kind], max(0.0, (now - first).total_seconds()))
            for kind in {k for k, _ in seen}:
                for status in MessageStatus:
                    if (kind, status.value) not in seen:
                        messages.add_metric([kind, status.value], 0)
            for inst, state in session.execute(
                select(Installation, DeliveryState).outerjoin(
                    DeliveryState, DeliveryState.installation_id == Installation.id
                )
            ):
                site = [inst.client_key]
                sites["delivery_paused"].add_metric(site, int(inst.delivery_paused_at is not None))
                if state is None:
                    continue
                if state.points_remaining is not None:
                    sites["points_remaining"].add_metric(site, state.points_remaining)
                if state.points_quota is not None:
                    sites["points_quota"].add_metric(site, state.points_quota)
                sites["points_spent"].add_metric(site, state.points_spent)
                low = state.points_low_until is not None and state.points_low_until > now
                sites["points_low"].add_metric(site, int(low))
                wait = (state.not_before - now).total_seconds() if state.not_before else 0.0
                sites["throttled_seconds"].add_metric(site, max(0.0, wait))
        yield messages
        yield oldest
        yield from sites.values()
