"""The alerts listener of incidents: every alert change brings incidents up to date, in its transaction."""

from __future__ import annotations

from sqlalchemy.orm import Session

from provider.ops.alerts.service import Alert
from provider.ops.alerts.service import AlertEvent
from provider.ops.incidents import alert_source
from provider.ops.incidents import promotion
from provider.ops.lang.regex import Budget


def on_alert_change(session: Session, alert: Alert, event: AlertEvent, budget: Budget) -> None:
    """Open, join or resolve incidents as an alert changes, within the alert's pattern budget."""
    if event is AlertEvent.DELETED:
        return  # the alert's incident link goes with the row; the incident stays as it was
    session.flush()
    promotion.handle_alert(session, alert_source.facts_of(alert), budget=budget)
