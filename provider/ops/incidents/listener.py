"""The alerts listener of incidents: every alert change brings incidents up to date, in its transaction."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from provider.ops.alerts.service import Alert
from provider.ops.alerts.service import AlertEvent
from provider.ops.alerts.service import BatchState
from provider.ops.incidents import alert_source
from provider.ops.incidents import promotion
from provider.ops.incidents.batch import BatchIncidents
from provider.ops.lang.regex import Budget


class IncidentsListener:
    """Open, join or resolve incidents as alerts change, within each alert's pattern budget.

    :meth:`prepare` reads, once per batch of alert requests, which incidents the batch's alerts
    belong to (:class:`BatchIncidents`); it serves the changes of that batch's transaction
    only. A change in any other transaction (a batch replayed one request at a time after a
    failure, say) reads what it needs itself. Processors in several threads may share one
    listener: each batch's state is kept by its transaction, and goes with it.
    """

    __slots__ = ("_prepared",)

    def __init__(self) -> None:
        self._prepared: BatchState[BatchIncidents] = BatchState()

    def prepare(self, session: Session, alerts: Iterable[Alert]) -> None:
        if session.get_transaction() is not None:
            ids = (alert.id for alert in alerts)
            self._prepared.begin(session, BatchIncidents.load(session, ids))

    def finish(self, session: Session) -> None:
        """Write what the batch decided on promotion and publish what it changed, once per
        incident, before its transaction commits."""
        batch = self._prepared.end(session)
        if batch is not None:
            batch.finish(session)

    def __call__(self, session: Session, alert: Alert, event: AlertEvent, budget: Budget) -> None:
        batch = self._prepared.get(session)
        if event is AlertEvent.DELETED:
            # The alert's incident link and candidate go with the row; the incident stays.
            if batch is not None:
                batch.deleted(alert.id)
            return
        if batch is not None and event is AlertEvent.CREATED:
            batch.new_alert(alert.id)
        # No flush first: what handle_alert reads flushes the changes before it, and a change
        # that reads nothing (an alert firing again in a batch) leaves its writes to be sent
        # together with the batch's others.
        promotion.handle_alert(session, alert_source.facts_of(alert), budget=budget, batch=batch)
