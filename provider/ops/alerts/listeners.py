"""Callbacks run after every change alert processing makes (the incidents part listens here).

Callbacks run inside the transaction of the change, so what they write (incidents, outbox rows)
commits or rolls back together with it. They are registered from a composition root.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.orm import Session

from provider.ops.alerts.models import Alert
from provider.ops.alerts.models import AlertEvent

logger = logging.getLogger(__name__)

AlertCallback = Callable[[Session, Alert, AlertEvent], None]


class AlertHooks:
    def __init__(self) -> None:
        self._callbacks: list[AlertCallback] = []

    def register(self, callback: AlertCallback) -> None:
        """Add a callback; registering the same one twice has no effect."""
        if callback not in self._callbacks:
            self._callbacks.append(callback)

    def unregister(self, callback: AlertCallback) -> None:
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    def after_change(self, session: Session, alert: Alert, event: AlertEvent) -> None:
        for callback in list(self._callbacks):
            callback(session, alert, event)


# The process-wide hooks ``process_pending`` uses unless given others.
alert_hooks = AlertHooks()
