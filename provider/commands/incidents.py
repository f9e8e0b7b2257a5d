"""Incident jobs of the worker process: time-based promotion of alerts to incidents."""

from __future__ import annotations

from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from provider.config import Settings
from provider.ops.incidents import service
from provider.outbox.worker import Tick


def promotion_tick(settings: Settings, session_factory: sessionmaker[Session]) -> Tick:
    """The worker's tick that promotes alerts left unacknowledged past their rule's threshold."""
    base_url = settings.base_url.rstrip("/")

    def promote_due_alerts() -> int:
        return service.promote_due(session_factory, base_url=base_url)

    return promote_due_alerts
