"""Alert jobs of the worker process: apply the alert requests the API accepted with a 202."""

from __future__ import annotations

from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from provider.config import Settings
from provider.ops.alert_wiring import register_alert_hooks
from provider.ops.alerts.processing import process_pending
from provider.outbox.worker import Tick

# Small, so that under a steady stream of alerts the worker's other ticks (the outbox drain)
# still run every few hundred milliseconds instead of waiting behind thousands of requests.
BATCH = 25


def alert_requests_tick(settings: Settings, session_factory: sessionmaker[Session]) -> Tick:
    """The worker's tick that processes pending alert requests, oldest first.

    Building it registers the alert hooks in the worker process, so requests processed here
    open incidents and queue outgoing actions exactly as they would in the web process.
    """
    register_alert_hooks(settings)

    def process_alert_requests() -> int:
        return process_pending(session_factory, limit=BATCH)

    return process_alert_requests
