"""The alerts a batch of alert requests names, loaded once and kept current as they apply, and
the log entries and counts the batch has yet to write."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from typing import cast

from sqlalchemy import JSON
from sqlalchemy import ColumnElement
from sqlalchemy import Select
from sqlalchemy import Table
from sqlalchemy import and_
from sqlalchemy import bindparam
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import tuple_
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import set_committed_value

from provider.db import among
from provider.ops.alerts.models import Alert
from provider.ops.alerts.models import AlertLog
from provider.ops.alerts.models import AlertStatus
from provider.ops.alerts.models import PendingRequest

# A Core statement on the table: the rows are plain values that nothing in the session reads,
# and the ORM's bulk insert coerced every value of every row again and flushed the session first
# (the commit flushes it anyway).
_INSERT_LOGS = insert(cast(Table, AlertLog.__table__))
_ALERTS = cast(Table, Alert.__table__)
# The columns a repeat changes, written for the batch's counted alerts in one executemany: as ORM
# changes, the unit of work's per-object bookkeeping was most of a storm batch's flush.
COUNTED_COLUMNS = ("count", "last_occurred_at", "updated_at")
_WRITE_COUNTS = (
    update(_ALERTS)
    .where(_ALERTS.c.id == bindparam("alert_id"))
    .values({column: bindparam(column) for column in COUNTED_COLUMNS})
)


# The open alerts of the batch's aliases and the alerts it names by id, locked in id order (see
# KnownAlerts); built once, the lists bound (an empty one matches nothing).
def _named(open_alias: ColumnElement[bool]) -> Select[Alert]:
    return (
        select(Alert)
        .where(
            or_(
                and_(Alert.status == AlertStatus.OPEN, open_alias),
                among(Alert.public_id, "public_ids"),
            )
        )
        .order_by(Alert.id)
        .with_for_update()
    )


# SQLite reads a row-value IN, (workspace_id, alias) IN (…), by scanning the whole alerts table,
# closed alerts included: milliseconds per batch that grow with the table. Joined from the pairs
# (a JSON array), it looks each one up in ix_alerts_workspace_alias.
_PAIRS = func.json_each(bindparam("pairs", type_=JSON)).table_valued("value").alias("pair")
_FOUND = aliased(Alert)
_NAMED = {
    "sqlite": _named(
        Alert.id.in_(
            select(_FOUND.id).join_from(
                _PAIRS,
                _FOUND,
                and_(
                    _FOUND.workspace_id == func.json_extract(_PAIRS.c.value, "$[0]"),
                    _FOUND.alias == func.json_extract(_PAIRS.c.value, "$[1]"),
                ),
            )
        )
    ),
    "postgresql": _named(
        tuple_(Alert.workspace_id, Alert.alias).in_(bindparam("pairs", expanding=True))
    ),
}


class KnownAlerts:
    """The alerts a batch of requests names, by open alias and by public id.

    Loaded in one query (locked on PostgreSQL, in id order so that two processors lock in the
    same order; SQLite serialises writers anyway) and kept current as the batch's requests apply:
    an alert closed here no longer answers for its alias, one created here does.

    The batch's log entries wait in :attr:`logs` and go in one statement (:meth:`write_logs`)
    rather than one each; nothing reads them before the batch commits. So do the counts of the
    alerts it counts again (:meth:`count_again`, :meth:`write_counts`), which must be written
    before anything reads them from the database: the incidents' descriptions do, when the
    batch's listeners finish.
    """

    __slots__ = ("_by_id", "_counted", "_open", "logs")

    def __init__(self) -> None:
        self._open: dict[tuple[int, str], Alert] = {}
        self._by_id: dict[str, Alert] = {}
        self._counted: dict[int, Alert] = {}
        self.logs: list[dict[str, Any]] = []

    @classmethod
    def load(cls, session: Session, requests: Iterable[PendingRequest]) -> KnownAlerts:
        aliases: set[tuple[int, str]] = set()
        public_ids: set[str] = set()
        for request in requests:
            if request.alias:
                aliases.add((request.workspace_id, request.alias))
            if request.alert_public_id:
                public_ids.add(request.alert_public_id)
        known = cls()
        if aliases or public_ids:
            named = {"pairs": sorted(aliases), "public_ids": sorted(public_ids)}
            statement = _NAMED[session.get_bind().dialect.name]
            for alert in session.scalars(statement, named):
                known.add(alert)
        return known

    def alerts(self) -> list[Alert]:
        return list(self._by_id.values())

    def add(self, alert: Alert) -> None:
        self._by_id[alert.public_id] = alert
        if alert.status is AlertStatus.OPEN:
            self._open[(alert.workspace_id, alert.alias)] = alert

    def forget(self, alert: Alert) -> None:
        self._by_id.pop(alert.public_id, None)
        self._counted.pop(alert.id, None)
        if self._open.get((alert.workspace_id, alert.alias)) is alert:
            del self._open[(alert.workspace_id, alert.alias)]

    def open_alert(self, workspace_id: int, alias: str | None) -> Alert | None:
        alert = self._open.get((workspace_id, alias or ""))
        return alert if alert is not None and alert.status is AlertStatus.OPEN else None

    def count_again(self, workspace_id: int, alias: str | None, now: datetime) -> Alert | None:
        """The open alert of ``alias`` that the batch knows, counted once more in memory (its
        row is locked, so the count is exact) and written by :meth:`write_counts`; ``None``
        when the batch knows none."""
        alert = self.open_alert(workspace_id, alias)
        if alert is not None:
            # No ORM history: the session's flush leaves these columns to write_counts.
            set_committed_value(alert, "count", alert.count + 1)
            set_committed_value(alert, "last_occurred_at", now)
            set_committed_value(alert, "updated_at", now)
            self._counted[alert.id] = alert
        return alert

    def write_counts(self, session: Session) -> None:
        """Write what :meth:`count_again` counted, as the alerts now hold it (a later change of
        the batch may have set ``updated_at`` again)."""
        if self._counted:
            rows = [
                {"alert_id": alert.id, **{c: getattr(alert, c) for c in COUNTED_COLUMNS}}
                for alert in self._counted.values()
            ]
            session.execute(_WRITE_COUNTS, rows)
            self._counted = {}

    def write_logs(self, session: Session) -> None:
        """Insert the waiting log entries (before the batch commits, and before an alert goes:
        its entries would name a row no longer there)."""
        if self.logs:
            session.execute(_INSERT_LOGS, self.logs)
            self.logs = []

    def by_public_id(self, workspace_id: int, public_id: str) -> Alert | None:
        alert = self._by_id.get(public_id)
        return alert if alert is not None and alert.workspace_id == workspace_id else None
