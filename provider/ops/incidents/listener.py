"""The alerts listener of incidents: every alert change brings incidents up to date, in its transaction."""

from __future__ import annotations

from sqlalchemy.orm import Session

from provider.ops.alerts.models import Alert
from provider.ops.alerts.models import AlertEvent
from provider.ops.incidents import alert_source
from provider.ops.incidents import service


class IncidentListener:
    """Opens, joins and resolves incidents as alerts change."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def __call__(self, session: Session, alert: Alert, event: AlertEvent) -> None:
        if event is AlertEvent.DELETED:
            return  # the alert's incident link goes with the row; the incident stays as it was
        session.flush()
        service.handle_alert(session, alert_source.facts_of(alert), base_url=self.base_url)
