"""The alert hook: every alert change brings incidents up to date, in the same transaction."""

from __future__ import annotations

from sqlalchemy.orm import Session

from provider.config import Settings
from provider.ops.alerts.listeners import AlertHooks
from provider.ops.alerts.listeners import alert_hooks
from provider.ops.alerts.models import Alert
from provider.ops.alerts.models import AlertEvent
from provider.ops.incidents import alert_source
from provider.ops.incidents import service


class IncidentAlertHook:
    """One callable per process (hooks de-duplicate by identity); knows the app's base URL."""

    def __init__(self) -> None:
        self.base_url = ""

    def __call__(self, session: Session, alert: Alert, event: AlertEvent) -> None:
        if event is AlertEvent.DELETED:
            return  # the alert's incident link goes with the row; the incident stays as it was
        session.flush()
        service.handle_alert(session, alert_source.facts_of(alert), base_url=self.base_url)


incident_alert_hook = IncidentAlertHook()


def register(settings: Settings, hooks: AlertHooks = alert_hooks) -> None:
    """Register the incidents hook (from a composition root: the app and the worker)."""
    incident_alert_hook.base_url = settings.base_url.rstrip("/")
    hooks.register(incident_alert_hook)
