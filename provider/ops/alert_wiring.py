"""What follows an alert change, wired once per process (web app and worker alike)."""

from __future__ import annotations

from provider.config import Settings
from provider.ops.alerts.listeners import alert_hooks
from provider.ops.incidents import listener as incident_hooks
from provider.ops.integrations import ingestion


def register_alert_hooks(settings: Settings) -> None:
    """Register the callbacks alert processing runs after each change; registering twice is a no-op.

    Incidents open, join and resolve from alert changes; outgoing integration actions (postToUrl)
    are queued from them. Both must run wherever alert requests are processed.
    """
    incident_hooks.register(settings)
    alert_hooks.register(ingestion.on_alert_change)
