"""Apply one alert request to its alert: create or de-duplicate, or act on an existing alert.

:func:`apply_request` takes the request's transaction's session and never commits; the processor
(``provider.ops.alerts.processing``) applies a batch of requests, in order, in one transaction,
with the alerts the batch names loaded once (:class:`~provider.ops.alerts.known.KnownAlerts`), so
that a de-duplication is a change in memory rather than a statement of its own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Any
from typing import cast

from sqlalchemy import Table
from sqlalchemy import bindparam
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.orm import Session

from provider.db import upsert_insert
from provider.ops.alerts.fields import EXTRA_PROPERTIES_MAX_CHARS
from provider.ops.alerts.fields import RECIPIENTS_MAX
from provider.ops.alerts.fields import TAGS_MAX
from provider.ops.alerts.fields import extra_properties_size
from provider.ops.alerts.known import KnownAlerts
from provider.ops.alerts.listeners import AlertListeners
from provider.ops.alerts.models import OPEN_PREDICATE
from provider.ops.alerts.models import Alert
from provider.ops.alerts.models import AlertAction
from provider.ops.alerts.models import AlertEvent
from provider.ops.alerts.models import AlertNote
from provider.ops.alerts.models import AlertStatus
from provider.ops.alerts.models import PendingRequest
from provider.ops.alerts.models import Priority
from provider.ops.alerts.schemas import AlertCreate
from provider.ops.alerts.schemas import parse_time
from provider.ops.lang.regex import Budget
from provider.times import iso
from provider.times import utcnow

STATUS_CREATED = "Created alert"
STATUS_DEDUPLICATED = "Alert is deduplicated"
STATUS_NOT_FOUND = "Alert does not exist"


class RequestFailed(Exception):
    """The request cannot be applied; its message becomes the request status."""


def apply_request(
    session: Session,
    request: PendingRequest,
    hooks: AlertListeners,
    budget: Budget,
    known: KnownAlerts,
) -> tuple[bool, str, str | None]:
    """Apply one request; returns ``(isSuccess, status, alertId)``.

    ``budget``: what the listeners may spend on tenant patterns for this request, all together.
    ``known``: the alerts of the request's batch (see :class:`KnownAlerts`), whose log entries
    and counts the caller writes (:meth:`KnownAlerts.write_logs`, :meth:`~KnownAlerts.write_counts`)
    before it commits.
    """
    if request.action is AlertAction.CREATE:
        # The open alert of the alias that the batch knows, counted once more; ``None`` when
        # the batch knows none (the create then opens one, or counts on one in the database).
        counted = known.count_again(request.workspace_id, request.alias, utcnow())
        if counted is not None:
            # The stored payload is the intake's validated dump (``AlertCreate.to_payload``), and
            # validation gives it back unchanged; a duplicate reads only its message and note,
            # so it skips validating the whole body again (most of a storm's requests).
            payload = request.payload
            ctx = _Context(session, request, counted, hooks, budget, known)
            return _deduplicated(ctx, payload["message"], payload.get("note") or "")
        data = AlertCreate.from_payload(
            {k: v for k, v in request.payload.items() if k != "alertId"}
        )
        opened, created = _open(session, request, data, known)
        ctx = _Context(session, request, opened, hooks, budget, known)
        return _created(ctx, data) if created else _deduplicated(ctx, data.message, data.note)
    target = _target(session, request, known)
    if target is None:
        return False, STATUS_NOT_FOUND, request.alert_public_id
    handler = _HANDLERS[request.action]
    try:
        result = handler(_Context(session, request, target, hooks, budget, known))
    except RequestFailed as e:
        return False, str(e), target.public_id
    return True, result, target.public_id


def _target(session: Session, request: PendingRequest, known: KnownAlerts) -> Alert | None:
    if request.alert_public_id:
        found = known.by_public_id(request.workspace_id, request.alert_public_id)
    elif request.identifier_type == "alias":
        found = known.open_alert(request.workspace_id, request.identifier)
    else:
        return None
    if found is None:
        # not one the batch loaded: a closed alert named by its alias, or one deleted meanwhile
        found = _locked_target(session, request)
        if found is not None:
            known.add(found)
    return found


def _locked_target(session: Session, request: PendingRequest) -> Alert | None:
    query = select(Alert).where(Alert.workspace_id == request.workspace_id)
    if request.alert_public_id:
        query = query.where(Alert.public_id == request.alert_public_id)
    else:
        query = query.where(Alert.alias == request.identifier).order_by(
            (Alert.status == AlertStatus.OPEN).desc(), Alert.id.desc()
        )
    return session.scalars(query.limit(1).with_for_update()).first()


_ALERTS = cast(Table, Alert.__table__)


@functools.cache
def _open_statement(insert: Callable[[Table], Any], columns: tuple[str, ...]) -> Any:
    """Open an alert, or count on the open one of its alias (PostgreSQL and SQLite spell it
    alike), and return the row as an ORM object; built once per dialect: built per create, the
    statement cost more than running it."""
    upsert = (
        insert(_ALERTS)
        .values({column: bindparam(column) for column in columns})
        .on_conflict_do_update(
            index_elements=[_ALERTS.c.workspace_id, _ALERTS.c.alias],
            index_where=text(OPEN_PREDICATE),
            set_={
                "count": _ALERTS.c.count + 1,
                "last_occurred_at": bindparam("now"),
                "updated_at": bindparam("now"),
            },
        )
        .returning(*_ALERTS.c)
    )
    return select(Alert).from_statement(upsert).execution_options(populate_existing=True)


def _open(
    session: Session, request: PendingRequest, data: AlertCreate, known: KnownAlerts
) -> tuple[Alert, bool]:
    """The alert a create opens, or the open one in the database it counts on (another
    processor opened it meanwhile); whether it opened it."""
    new_id = request.payload["alertId"]
    now = utcnow()
    values: dict[str, Any] = {
        "public_id": new_id,
        "workspace_id": request.workspace_id,
        "alias": request.alias,
        "status": AlertStatus.OPEN,
        "message": data.message,
        "description": data.description,
        "entity": data.entity,
        "source": data.source,
        "priority": data.priority,
        "owner": "",
        "acknowledged": False,
        "snoozed": False,
        "seen": False,
        "count": 1,
        "tags": data.tags,
        "extra_properties": data.extra_properties,
        "responders": [r.model_dump() for r in data.responders],
        "visible_to": [v.model_dump() for v in data.visible_to],
        "actions": data.actions,
        "integration_id": request.integration_id,
        "integration_name": request.integration_name or "Default API",
        "integration_type": request.integration_type or "API",
        "created_at": now,
        "updated_at": now,
        "last_occurred_at": now,
    }
    statement = _open_statement(upsert_insert(session), tuple(values))
    # The row comes back whole, as an ORM object: no second statement to load it. And no flush
    # first: an alert closed or deleted earlier in the batch has already left the partial
    # unique index (those changes flush at once, see _Context.changed and _delete), and the
    # batch's other pending rows (the incidents' links and timeline entries of the alerts it
    # opened) then go out together rather than a statement each per create.
    with session.no_autoflush:
        alert = session.scalars(statement, {**values, "now": now}).one()
    known.add(alert)
    # not new when another processor opened it meanwhile
    return alert, alert.public_id == new_id


def _created(ctx: _Context, data: AlertCreate) -> tuple[bool, str, str | None]:
    ctx.log(AlertEvent.CREATED, f"Alert created: {data.message}")
    for note in data.truncations:
        ctx.log(AlertEvent.TRUNCATED, note)
    if data.note:
        ctx.add_note(data.note)
    ctx.after(AlertEvent.CREATED)
    return True, STATUS_CREATED, ctx.alert.public_id


def _deduplicated(ctx: _Context, message: str, note: str) -> tuple[bool, str, str | None]:
    # A duplicate only counts: message, description, priority, state, owner and responders stay
    # as the first occurrence set them; the duplicate's message is kept in the log.
    ctx.log(AlertEvent.DEDUPLICATED, f"Alert de-duplicated; count {ctx.alert.count}: {message}")
    if note:
        ctx.add_note(note)
    ctx.after(AlertEvent.DEDUPLICATED)
    return True, STATUS_DEDUPLICATED, ctx.alert.public_id


@dataclass
class _Context:
    """One request applied to its alert: what the handlers read and write."""

    session: Session
    request: PendingRequest
    alert: Alert
    hooks: AlertListeners
    budget: Budget
    known: KnownAlerts
    payload: dict[str, Any] = field(init=False)
    now: datetime = field(init=False, default_factory=utcnow)

    def __post_init__(self) -> None:
        self.payload = dict(self.request.payload or {})

    def log(self, event: AlertEvent, message: str) -> None:
        self.known.logs.append(
            {
                "alert_id": self.alert.id,
                "action": event,
                "message": message,
                "actor": self.request.actor,
                "request_id": self.request.public_id,
                "created_at": utcnow(),
            }
        )

    def add_note(self, note: str) -> AlertNote:
        row = AlertNote(alert_id=self.alert.id, note=note, owner=self.request.actor)
        self.session.add(row)
        self.session.flush()
        self.log(AlertEvent.NOTE_ADDED, f"Note added: {note[:200]}")
        return row

    def changed(self, event: AlertEvent, message: str) -> str:
        """Record a change: touch the alert, log it, add the request's note, run the hooks."""
        self.alert.updated_at = self.now
        self.log(event, message)
        note = self.payload.get("note")
        if isinstance(note, str) and note and event is not AlertEvent.NOTE_ADDED:
            self.add_note(note)
        self.session.flush()
        self.after(event)
        return "Request processed successfully"

    def after(self, event: AlertEvent) -> None:
        self.hooks.after_change(self.session, self.alert, event, self.budget)

    def require_open(self) -> None:
        if self.alert.status is AlertStatus.CLOSED:
            raise RequestFailed("Alert is already closed")

    def find_note(self) -> AlertNote:
        note = self.session.scalars(
            select(AlertNote).where(
                AlertNote.alert_id == self.alert.id,
                AlertNote.public_id == self.payload.get("noteId"),
            )
        ).first()
        if note is None:
            raise RequestFailed("Note does not exist")
        return note


def _acknowledge(c: _Context) -> str:
    c.require_open()
    if c.alert.acknowledged:
        return "Alert is already acknowledged"
    c.alert.acknowledged = True
    c.alert.acknowledged_at = c.now
    c.alert.acknowledged_by = c.request.actor
    c.alert.seen = True
    return c.changed(AlertEvent.ACKNOWLEDGED, f"Alert acknowledged by {c.request.actor}")


def _unacknowledge(c: _Context) -> str:
    c.require_open()
    if not c.alert.acknowledged:
        return "Alert is not acknowledged"
    c.alert.acknowledged = False
    c.alert.acknowledged_at = None
    c.alert.acknowledged_by = None
    return c.changed(AlertEvent.UNACKNOWLEDGED, f"Alert unacknowledged by {c.request.actor}")


def _close(c: _Context) -> str:
    if c.alert.status is AlertStatus.CLOSED:
        return "Alert is already closed"
    c.alert.status = AlertStatus.CLOSED
    c.alert.closed_at = c.now
    c.alert.closed_by = c.request.actor
    c.alert.snoozed = False
    return c.changed(AlertEvent.CLOSED, f"Alert closed by {c.request.actor}")


def _delete(c: _Context) -> str:
    # Hooks see the alert before it goes; its logs and notes go with it (ON DELETE CASCADE).
    c.after(AlertEvent.DELETED)
    c.known.write_logs(c.session)
    c.known.forget(c.alert)
    c.session.delete(c.alert)
    c.session.flush()
    return "Alert deleted"


def _assign(c: _Context) -> str:
    owner = str(c.payload["accountId"])
    c.alert.owner = owner
    return c.changed(AlertEvent.ASSIGNED, f"Alert assigned to {owner}")


def _add_responder(c: _Context) -> str:
    responder = dict(c.payload["responder"])
    current = list(c.alert.responders or [])
    if responder in current:
        return "Responder is already on the alert"
    if len(current) >= RECIPIENTS_MAX:
        raise RequestFailed(f"Alert already has {RECIPIENTS_MAX} responders")
    c.alert.responders = [*current, responder]
    return c.changed(
        AlertEvent.RESPONDER_ADDED, f"Responder added: {responder['type']} {responder['id']}"
    )


def _add_extra_properties(c: _Context) -> str:
    merged = dict(c.alert.extra_properties or {})
    merged.update(c.payload["extraProperties"])
    if extra_properties_size(merged) > EXTRA_PROPERTIES_MAX_CHARS:
        raise RequestFailed(
            f"Extra properties would exceed {EXTRA_PROPERTIES_MAX_CHARS} characters in total"
        )
    c.alert.extra_properties = merged
    keys = ", ".join(sorted(c.payload["extraProperties"]))
    return c.changed(AlertEvent.EXTRA_PROPERTIES_ADDED, f"Extra properties added: {keys}")


def _delete_extra_properties(c: _Context) -> str:
    keys = set(c.payload["keys"])
    current = dict(c.alert.extra_properties or {})
    c.alert.extra_properties = {k: v for k, v in current.items() if k not in keys}
    return c.changed(
        AlertEvent.EXTRA_PROPERTIES_REMOVED, f"Extra properties removed: {', '.join(sorted(keys))}"
    )


def _add_tags(c: _Context) -> str:
    tags = list(c.alert.tags or [])
    added = [t for t in c.payload["tags"] if t not in tags]
    if len(tags) + len(added) > TAGS_MAX:
        raise RequestFailed(f"An alert can have at most {TAGS_MAX} tags")
    c.alert.tags = tags + added
    return c.changed(AlertEvent.TAGS_ADDED, f"Tags added: {', '.join(added) or '(none new)'}")


def _remove_tags(c: _Context) -> str:
    remove = set(c.payload["tags"])
    c.alert.tags = [t for t in (c.alert.tags or []) if t not in remove]
    return c.changed(AlertEvent.TAGS_REMOVED, f"Tags removed: {', '.join(sorted(remove))}")


def _escalate(c: _Context) -> str:
    c.require_open()
    responder = {"id": str(c.payload["escalationId"]), "type": "escalation"}
    current = list(c.alert.responders or [])
    if responder not in current:
        c.alert.responders = [*current, responder][:RECIPIENTS_MAX]
    return c.changed(AlertEvent.ESCALATED, f"Escalated to next: {responder['id']}")


def _execute_action(c: _Context) -> str:
    name = str(c.payload["actionName"])
    if name not in (c.alert.actions or []):
        raise RequestFailed(f"Action {name!r} is not defined on the alert")
    return c.changed(AlertEvent.ACTION_EXECUTED, f"Action executed: {name}")


def _snooze(c: _Context) -> str:
    c.require_open()
    end = parse_time(c.payload["endTime"], "endTime")
    if end <= c.now:
        raise RequestFailed("endTime is in the past")
    c.alert.snoozed = True
    c.alert.snoozed_until = end
    return c.changed(AlertEvent.SNOOZED, f"Alert snoozed until {iso(end)}")


def _add_note(c: _Context) -> str:
    c.add_note(str(c.payload["note"]))
    c.alert.updated_at = c.now
    c.after(AlertEvent.NOTE_ADDED)
    return "Note added"


def _update_note(c: _Context) -> str:
    note = c.find_note()
    note.note = str(c.payload["note"])
    note.updated_at = c.now
    c.alert.updated_at = c.now
    c.log(AlertEvent.NOTE_UPDATED, f"Note {note.public_id} updated")
    c.after(AlertEvent.NOTE_UPDATED)
    return "Note updated"


def _delete_note(c: _Context) -> str:
    note = c.find_note()
    c.session.delete(note)
    c.alert.updated_at = c.now
    c.log(AlertEvent.NOTE_DELETED, f"Note {note.public_id} deleted")
    c.after(AlertEvent.NOTE_DELETED)
    return "Note deleted"


def _update_priority(c: _Context) -> str:
    new = Priority(c.payload["priority"])
    old = c.alert.priority
    if new is old:
        return "Priority is unchanged"
    c.alert.priority = new
    return c.changed(AlertEvent.PRIORITY_CHANGED, f"Priority changed from {old} to {new}")


def _update_message(c: _Context) -> str:
    c.alert.message = str(c.payload["message"])
    return c.changed(AlertEvent.MESSAGE_CHANGED, f"Message changed to: {c.alert.message}")


def _update_description(c: _Context) -> str:
    c.alert.description = str(c.payload["description"])
    return c.changed(AlertEvent.DESCRIPTION_CHANGED, "Description changed")


_HANDLERS: dict[AlertAction, Callable[[_Context], str]] = {
    AlertAction.ACKNOWLEDGE: _acknowledge,
    AlertAction.UNACKNOWLEDGE: _unacknowledge,
    AlertAction.CLOSE: _close,
    AlertAction.DELETE: _delete,
    AlertAction.ASSIGN: _assign,
    AlertAction.ADD_RESPONDER: _add_responder,
    AlertAction.ADD_EXTRA_PROPERTIES: _add_extra_properties,
    AlertAction.DELETE_EXTRA_PROPERTIES: _delete_extra_properties,
    AlertAction.ADD_TAGS: _add_tags,
    AlertAction.REMOVE_TAGS: _remove_tags,
    AlertAction.ESCALATE: _escalate,
    AlertAction.EXECUTE_ACTION: _execute_action,
    AlertAction.SNOOZE: _snooze,
    AlertAction.ADD_NOTE: _add_note,
    AlertAction.UPDATE_NOTE: _update_note,
    AlertAction.DELETE_NOTE: _delete_note,
    AlertAction.UPDATE_PRIORITY: _update_priority,
    AlertAction.UPDATE_MESSAGE: _update_message,
    AlertAction.UPDATE_DESCRIPTION: _update_description,
}
