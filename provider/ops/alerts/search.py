"""Compile the alert search language to SQL, and list alerts with sort and pagination.

Field semantics (see docs/api.md): text fields match a case-insensitive substring, keys (alias,
id, tinyId, integration name/type) match exactly, list fields (tags, actions, responders) match
membership, ``details.<key>`` matches one extra property's value, time and count fields compare.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy import and_
from sqlalchemy import case
from sqlalchemy import cast
from sqlalchemy import exists
from sqlalchemy import false
from sqlalchemy import func
from sqlalchemy import literal
from sqlalchemy import not_
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import true
from sqlalchemy.orm import Session
from sqlalchemy.types import Text

from provider.errors import ValidationFailed
from provider.ops.alerts.models import Alert
from provider.ops.alerts.models import AlertStatus
from provider.ops.alerts.models import Priority
from provider.ops.alerts.schemas import SORT_FIELDS
from provider.ops.alerts.schemas import AlertListQuery
from provider.ops.alerts.schemas import parse_time
from provider.ops.lang.query import And
from provider.ops.lang.query import Node
from provider.ops.lang.query import Not
from provider.ops.lang.query import Or
from provider.ops.lang.query import QueryError
from provider.ops.lang.query import Term
from provider.ops.lang.query import parse_query
from provider.times import utcnow

SORTS: dict[str, Any] = {
    "createdat": Alert.created_at,
    "insertedat": Alert.created_at,
    "updatedat": Alert.updated_at,
    "lastoccurredat": Alert.last_occurred_at,
    "priority": Alert.priority,
    "count": Alert.count,
    "status": Alert.status,
    "tinyid": Alert.id,
    "alias": Alert.alias,
    "message": Alert.message,
    "snoozeduntil": Alert.snoozed_until,
}

SORT_HELP = ", ".join(SORT_FIELDS)

_TEXT = {
    "message": Alert.message,
    "description": Alert.description,
    "entity": Alert.entity,
    "source": Alert.source,
    "owner": Alert.owner,
}
_EXACT = {
    "alias": Alert.alias,
    "alertid": Alert.public_id,
    "id": Alert.public_id,
    "integration.name": Alert.integration_name,
    "integrationname": Alert.integration_name,
    "integration.type": Alert.integration_type,
    "integrationtype": Alert.integration_type,
}
_TIMES = {
    "createdat": Alert.created_at,
    "updatedat": Alert.updated_at,
    "lastoccurredat": Alert.last_occurred_at,
    "snoozeduntil": Alert.snoozed_until,
}
_BOOLS = {"acknowledged": Alert.acknowledged, "seen": Alert.seen, "isseen": Alert.seen}
_PROPERTY_PREFIXES = ("details.", "extraproperties.")
_FIELDS_HELP = (
    "status, priority, alias, message, description, entity, source, owner, tag, tags, actions, "
    "responders, count, createdAt, updatedAt, lastOccurredAt, snoozedUntil, acknowledged, "
    "snoozed, seen, alertId, tinyId, integration.name, integration.type, details.<key>"
)


class _Compiler:
    def __init__(self, dialect: str, now: datetime) -> None:
        self.dialect = dialect
        self.now = now

    def compile(self, node: Node) -> ColumnElement[bool]:
        if isinstance(node, And):
            return and_(*(self.compile(n) for n in node.nodes))
        if isinstance(node, Or):
            return or_(*(self.compile(n) for n in node.nodes))
        if isinstance(node, Not):
            return not_(self.compile(node.node))
        return self.term(node)

    def term(self, t: Term) -> ColumnElement[bool]:
        if t.field is None:
            needle = t.value.lower()
            return or_(
                _contains(Alert.message, needle),
                _contains(Alert.description, needle),
                _contains(Alert.entity, needle),
                Alert.alias == t.value,
            )
        name = t.field.lower()
        if name in _TIMES:
            return self._compare(t, _TIMES[name], _time_value(t))
        if name == "count":
            if not _ascii_digits(t.value) or len(t.value) > 12:
                raise QueryError("count needs a whole number", t.value_position)
            return self._compare(t, Alert.count, int(t.value))
        if name == "tinyid":
            if not _ascii_digits(t.value) or len(t.value) > 18:
                raise QueryError("tinyId needs a whole number", t.value_position)
            return self._compare(t, Alert.id, int(t.value))
        if name == "priority":
            try:
                priority = Priority(t.value.upper())
            except ValueError:
                raise QueryError("priority must be one of P1..P5", t.value_position) from None
            return self._compare(t, Alert.priority, priority)
        self._colon_only(t)
        if name == "status":
            return self._status(t)
        if name in _TEXT:
            return _contains(_TEXT[name], t.value.lower())
        if name in _EXACT:
            column = _EXACT[name]
            if name in ("alias", "alertid", "id"):
                return column == t.value
            return func.lower(column) == t.value.lower()
        if name in _BOOLS or name == "snoozed":
            value = t.value.lower()
            if value not in ("true", "false"):
                raise QueryError(f"{t.field} must be true or false", t.value_position)
            flag = value == "true"
            if name == "snoozed":
                snoozed = self._snoozed()
                return snoozed if flag else not_(snoozed)
            return _BOOLS[name].is_(flag)
        if name in ("tag", "tags"):
            return self._array_contains(Alert.tags, t.value)
        if name in ("action", "actions"):
            return self._array_contains(Alert.actions, t.value)
        if name in ("responder", "responders"):
            return self._array_contains(Alert.responders, t.value, key="id")
        for prefix in _PROPERTY_PREFIXES:
            if name.startswith(prefix) and len(name) > len(prefix):
                key = t.field[len(prefix) :]
                return self._property(key, t)
        raise QueryError(f"unknown field {t.field!r} (known: {_FIELDS_HELP})", t.position)

    def _colon_only(self, t: Term) -> None:
        if t.op != ":":
            raise QueryError(f"{t.field} cannot be compared with {t.op}", t.position)

    def _compare(self, t: Term, column: Any, value: Any) -> ColumnElement[bool]:
        ops: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
            ":": lambda c, v: c == v,
            "<": lambda c, v: c < v,
            "<=": lambda c, v: c <= v,
            ">": lambda c, v: c > v,
            ">=": lambda c, v: c >= v,
        }
        return ops[t.op](column, value)

    def _snoozed(self) -> ColumnElement[bool]:
        return and_(
            Alert.snoozed.is_(True),
            Alert.snoozed_until.is_not(None),
            Alert.snoozed_until > self.now,
            Alert.status == AlertStatus.OPEN,
        )

    def _status(self, t: Term) -> ColumnElement[bool]:
        value = t.value.lower()
        is_open = Alert.status == AlertStatus.OPEN
        if value == "open":
            return is_open
        if value == "closed":
            return Alert.status == AlertStatus.CLOSED
        if value in ("acked", "acknowledged"):
            return and_(is_open, Alert.acknowledged.is_(True))
        if value in ("unacked", "unacknowledged"):
            return and_(is_open, Alert.acknowledged.is_(False))
        if value == "snoozed":
            return self._snoozed()
        raise QueryError(
            "status must be open, closed, acked, acknowledged, unacked or snoozed",
            t.value_position,
        )

    def _array_contains(
        self, column: Any, value: str, *, key: str | None = None
    ) -> ColumnElement[bool]:
        item: ColumnElement[Any]
        if self.dialect == "postgresql":
            if key:
                elements = func.jsonb_array_elements(column).table_valued("value")
                item = elements.c.value.op("->>", return_type=Text)(literal(key, Text))
            else:
                elements = func.jsonb_array_elements_text(column).table_valued("value")
                item = elements.c.value
        else:
            elements = func.json_each(column).table_valued("value")
            item = func.json_extract(elements.c.value, f"$.{key}") if key else elements.c.value
        return exists(
            select(literal(1)).select_from(elements).where(func.lower(item) == value.lower())
        )

    def _property(self, key: str, t: Term) -> ColumnElement[bool]:
        self._colon_only(t)
        if '"' in key or "\\" in key or len(key) > 128:
            raise QueryError("extra property keys cannot contain quotes", t.position)
        value: ColumnElement[Any]
        if self.dialect == "postgresql":
            value = Alert.extra_properties[key].as_string()
        else:
            path = f'$."{key}"'
            kind = func.json_type(Alert.extra_properties, path)
            value = case(
                (kind == "true", literal("true")),
                (kind == "false", literal("false")),
                else_=cast(func.json_extract(Alert.extra_properties, path), Text),
            )
        if t.value == "*":
            return value.is_not(None)
        matches: ColumnElement[bool] = func.lower(value) == t.value.lower()
        return matches


def _contains(column: Any, needle: str) -> ColumnElement[bool]:
    return func.lower(column).contains(needle, autoescape=True)


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _time_value(t: Term) -> datetime:
    text = t.value.strip()
    if _DATE.match(text):
        text += "T00:00:00Z"
    elif "T" in text and not re.search(r"(Z|z|[+-]\d{2}:?\d{2})$", text):
        text += "Z"  # a time without a zone in a query means UTC
    try:
        return parse_time(text, t.field or "value")
    except ValidationFailed:
        raise QueryError(
            f"{t.field} needs an ISO 8601 date-time or epoch milliseconds", t.value_position
        ) from None


def build_filter(query: str, dialect: str, now: datetime | None = None) -> ColumnElement[bool]:
    """Compile a query to a WHERE clause.

    :raises ValidationFailed: (422) whose title names the position of the problem.
    """
    try:
        node = parse_query(query)
        if node is None:
            return true()
        return _Compiler(dialect, now or utcnow()).compile(node)
    except QueryError as e:
        raise ValidationFailed(
            f"Invalid query: {e.message} at position {e.position}",
            code="invalid_query",
            details={"source": {"parameter": "query", "position": e.position}},
        ) from None


def _ascii_digits(text: str) -> bool:
    # str.isdigit() also holds for "³" and "٣"; only ASCII digits are numbers on this API.
    return text.isascii() and text.isdigit()


def _bound(value: str | None, name: str) -> datetime | None:
    if value is None or value.strip() == "":
        return None
    text = value.strip()
    return parse_time(int(text) if _ascii_digits(text) and len(text) <= 15 else text, name)


def search_alerts(
    session: Session,
    workspace_id: int,
    *,
    query: str = "",
    sort: str | None = None,
    order: str | None = None,
    time_from: str | None = None,
    time_to: str | None = None,
    offset: int = 0,
    size: int = 20,
    count_up_to: int | None = None,
) -> tuple[list[Alert], int]:
    """One page of the workspace's alerts matching ``query``, and the total number of matches.

    With ``count_up_to`` the matches are counted up to that many only: the total is then
    ``min(matches, count_up_to)``.

    :raises ValidationFailed: for a bad query, sort, order or time bound.
    """
    sort_key = (sort or "createdAt").strip().lower()
    if sort_key not in SORTS:
        raise ValidationFailed(
            f"sort must be one of: {SORT_HELP}",
            details={"source": {"parameter": "sort"}},
        )
    direction = (order or "desc").strip().lower()
    if direction not in ("asc", "desc"):
        raise ValidationFailed(
            "order must be asc or desc", details={"source": {"parameter": "order"}}
        )
    dialect = session.get_bind().dialect.name
    conditions: list[ColumnElement[bool]] = [
        Alert.workspace_id == workspace_id,
        build_filter(query, dialect),
    ]
    start, end = _bound(time_from, "from"), _bound(time_to, "to")
    if start is not None:
        conditions.append(Alert.created_at >= start)
    if end is not None:
        conditions.append(Alert.created_at < end)
    if start is not None and end is not None and end <= start:
        conditions.append(false())
    where = and_(*conditions)
    matching = select(Alert.id).where(where)
    if count_up_to is not None:
        matching = matching.limit(count_up_to)
    total = session.scalar(select(func.count()).select_from(matching.subquery())) or 0
    column = SORTS[sort_key]
    ordering = (
        (column.asc(), Alert.id.asc()) if direction == "asc" else (column.desc(), Alert.id.desc())
    )
    if offset:
        # The rows skipped are read as ids only (from the index the order walks, when one
        # covers it) and only the page's alerts are loaded: PostgreSQL otherwise reads every
        # skipped alert from the table.
        ids = select(Alert.id).where(where).order_by(*ordering).offset(offset).limit(size)
        ids = ids.correlate(None)
        page = select(Alert).where(Alert.id.in_(ids)).order_by(*ordering)
    else:
        page = select(Alert).where(where).order_by(*ordering).limit(size)
    return list(session.scalars(page).all()), total


def search_listed(
    session: Session, workspace_id: int, listed: AlertListQuery
) -> tuple[list[Alert], int]:
    """:func:`search_alerts` with the parameters of a list request.

    A list is read no deeper than its window (``offset + size`` below it), so its matches are
    counted up to the window: what a page costs then follows the window, not the workspace's
    history, and ``count`` still says exactly when a next page exists.
    """
    return search_alerts(
        session,
        workspace_id,
        query=listed.query,
        sort=listed.sort,
        order=listed.order,
        time_from=listed.time_from,
        time_to=listed.time_to,
        offset=listed.offset,
        size=listed.size,
        count_up_to=listed.WINDOW,
    )
