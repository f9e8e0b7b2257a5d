"""What runs after every change alert processing makes (incidents, outgoing actions).

Listeners run after every change, one call per request, inside the transaction of the change
(a batch of requests shares one), so what they write (incidents, outbox rows) commits or rolls
back together with it; they see the alert as that request left it. The worker's composition root decides which run. They
share the request's pattern budget: whatever every listener's filters, mappings and templates
contain, one alert costs at most that much.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from collections.abc import Iterable
from typing import Generic
from typing import TypeVar

from sqlalchemy.orm import Session
from sqlalchemy.orm import SessionTransaction

from provider.ops.alerts.models import Alert
from provider.ops.alerts.models import AlertEvent
from provider.ops.lang.regex import Budget

AlertListener = Callable[[Session, Alert, AlertEvent, Budget], None]
#: Told, when a batch's transaction begins, which alerts its requests name (those that exist),
#: so that a listener can read what it needs of all of them at once rather than per change.
BatchPreparer = Callable[[Session, Iterable[Alert]], None]
#: Told, after a batch's last change and before its transaction commits, that the batch is done.
BatchFinisher = Callable[[Session], None]


T = TypeVar("T")


class BatchState(Generic[T]):
    """What a listener keeps for each batch, by the batch's transaction.

    Processors in several threads may share one listener, so a single slot would let one
    batch's state overwrite another's. An entry goes with its transaction, so a batch that
    rolls back (and never reaches its finisher) leaves nothing behind.
    """

    __slots__ = ("_by_transaction",)

    def __init__(self) -> None:
        self._by_transaction: weakref.WeakKeyDictionary[SessionTransaction, T] = (
            weakref.WeakKeyDictionary()
        )

    def begin(self, session: Session, state: T) -> None:
        if (transaction := session.get_transaction()) is not None:
            self._by_transaction[transaction] = state

    def get(self, session: Session) -> T | None:
        """The state of the batch ``session`` is in, or None outside a prepared batch (a
        request replayed alone after its batch failed, say)."""
        transaction = session.get_transaction()
        return self._by_transaction.get(transaction) if transaction is not None else None

    def end(self, session: Session) -> T | None:
        transaction = session.get_transaction()
        return self._by_transaction.pop(transaction, None) if transaction is not None else None


class AlertListeners:
    """An ordered, fixed set of listeners, and what prepares them for a batch."""

    __slots__ = ("_finishers", "_listeners", "_preparers")

    def __init__(
        self,
        listeners: Iterable[AlertListener] = (),
        prepare: Iterable[BatchPreparer] = (),
        finish: Iterable[BatchFinisher] = (),
    ) -> None:
        self._listeners = tuple(listeners)
        self._preparers = tuple(prepare)
        self._finishers = tuple(finish)

    def prepare(self, session: Session, alerts: Iterable[Alert]) -> None:
        loaded = tuple(alerts)
        for preparer in self._preparers:
            preparer(session, loaded)

    def finish(self, session: Session) -> None:
        for finisher in self._finishers:
            finisher(session)

    def after_change(
        self, session: Session, alert: Alert, event: AlertEvent, budget: Budget
    ) -> None:
        for listener in self._listeners:
            listener(session, alert, event, budget)


NO_LISTENERS = AlertListeners()
