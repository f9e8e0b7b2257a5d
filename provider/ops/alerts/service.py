"""The alerts context's interface: what the API, other contexts and the worker call.

Alert writes are requests: ``submit_create`` and ``submit_action`` validate, add an
``AlertRequest`` row to the caller's session and never commit; the caller commits before
answering 202, which is what makes the request durable, and processing applies it later.
Other contexts read alerts through the functions here (and the types re-exported below), never
through the alert tables directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy import Row
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.db import new_public_id
from provider.errors import NotFound
from provider.errors import ValidationFailed
from provider.ops.access.principal import ApiPrincipal
from provider.ops.alerts.fields import MESSAGE_MAX as MESSAGE_MAX
from provider.ops.alerts.fields import TAG_MAX as TAG_MAX
from provider.ops.alerts.fields import TAGS_MAX as TAGS_MAX
from provider.ops.alerts.listeners import BatchState as BatchState
from provider.ops.alerts.models import Alert as Alert
from provider.ops.alerts.models import AlertAction as AlertAction
from provider.ops.alerts.models import AlertEvent as AlertEvent
from provider.ops.alerts.models import AlertLog
from provider.ops.alerts.models import AlertNote as AlertNote
from provider.ops.alerts.models import AlertRequest as AlertRequest
from provider.ops.alerts.models import AlertStatus as AlertStatus
from provider.ops.alerts.models import Priority
from provider.ops.alerts.models import RequestState
from provider.ops.alerts.schemas import AlertCreate as AlertCreate
from provider.ops.alerts.schemas import alert_to_json as alert_to_json
from provider.times import utcnow

IDENTIFIER_TYPES = ("id", "alias", "tiny")


@dataclass(frozen=True, slots=True)
class AlertRef:
    """How a request names its alert: ``identifierType=id|alias|tiny``."""

    identifier: str
    identifier_type: str = "id"

    @classmethod
    def parse(cls, identifier: str, identifier_type: str | None) -> AlertRef:
        """:raises ValidationFailed: for an unknown identifier type or an unusable identifier."""
        kind = (identifier_type or "id").strip().lower()
        if kind not in IDENTIFIER_TYPES:
            raise ValidationFailed(
                "identifierType must be one of: id, alias, tiny",
                details={"source": {"parameter": "identifierType"}},
            )
        if not identifier or len(identifier) > 512:
            raise ValidationFailed("The alert identifier must be 1 to 512 characters.")
        return cls(identifier, kind)


def find_alert(session: Session, workspace_id: int, ref: AlertRef) -> Alert | None:
    """The workspace's alert named by ``ref``; never an alert of another workspace.

    An alias names the open alert with that alias or, when none is open, the latest closed one.
    """
    query = select(Alert).where(Alert.workspace_id == workspace_id)
    if ref.identifier_type == "id":
        query = query.where(Alert.public_id == ref.identifier)
    elif ref.identifier_type == "tiny":
        if not (ref.identifier.isascii() and ref.identifier.isdigit()) or len(ref.identifier) > 18:
            return None
        query = query.where(Alert.id == int(ref.identifier))
    else:
        query = query.where(Alert.alias == ref.identifier).order_by(
            (Alert.status == AlertStatus.OPEN).desc(), Alert.id.desc()
        )
    return session.scalars(query.limit(1)).first()


def require_alert(session: Session, workspace_id: int, ref: AlertRef) -> Alert:
    """:raises NotFound:"""
    alert = find_alert(session, workspace_id, ref)
    if alert is None:
        raise NotFound("Alert does not exist.", code="alert_not_found")
    return alert


def _attribution(principal: ApiPrincipal, actor: str | None) -> dict[str, Any]:
    integration = principal.integration
    return {
        "workspace_id": principal.workspace.id,
        "actor": (actor or principal.actor)[:255],
        "integration_id": integration.public_id if integration else None,
        "integration_name": integration.name if integration else None,
        "integration_type": str(integration.type) if integration else None,
    }


def submit_create(
    session: Session, principal: ApiPrincipal, data: AlertCreate, *, actor: str | None = None
) -> AlertRequest:
    """Record a create request; processing opens the alert or de-duplicates it by alias.

    Without an alias the alert's own id becomes its alias (as in Opsgenie), so it never
    de-duplicates.
    """
    request = AlertRequest(**create_request_row(principal, data, actor=actor))
    session.add(request)
    session.flush()
    return request


def create_request_row(
    principal: ApiPrincipal, data: AlertCreate, *, actor: str | None = None
) -> dict[str, Any]:
    """The ``alert_requests`` row of a create, every column the caller sets named, its public
    id included: what :func:`submit_create` adds, for writers that insert rows in bulk."""
    alert_id = new_public_id()
    alias = data.alias or alert_id
    payload = data.to_payload()
    payload["alertId"] = alert_id
    return {
        "public_id": new_public_id(),
        "action": AlertAction.CREATE,
        "identifier": alias,
        "identifier_type": "alias",
        "alias": alias,
        "payload": payload,
        **_attribution(principal, actor or data.user or None),
    }


def submit_action(
    session: Session,
    principal: ApiPrincipal,
    action: AlertAction,
    ref: AlertRef,
    payload: Mapping[str, Any] | None = None,
    *,
    actor: str | None = None,
    note_id: str | None = None,
) -> AlertRequest:
    """Record an action on an existing alert.

    The alert must exist in the caller's workspace now (by id or tiny id), or, for an alias, an
    alert or a still-pending create with that alias must exist, so a key never learns anything
    about another workspace's alerts and a typo is a 404 rather than a silent failure later.

    :raises NotFound: when the alert (or the note of a note action) does not exist.
    """
    workspace_id = principal.workspace.id
    alert = find_alert(session, workspace_id, ref)
    pending = False
    if alert is None and ref.identifier_type == "alias":
        pending = _pending_create_exists(session, workspace_id, ref)
        if not pending:
            # On PostgreSQL each statement reads what is committed when it starts: the batch
            # that applied the create may have committed between the two reads.
            alert = find_alert(session, workspace_id, ref)
    if alert is None and not pending:
        raise NotFound("Alert does not exist.", code="alert_not_found")
    if note_id is not None:
        note = None
        if alert is not None:
            note = session.scalars(
                select(AlertNote).where(
                    AlertNote.alert_id == alert.id, AlertNote.public_id == note_id
                )
            ).first()
        if note is None:
            raise NotFound("Note does not exist.", code="note_not_found")
    body = dict(payload or {})
    if note_id is not None:
        body["noteId"] = note_id
    request = AlertRequest(
        action=action,
        identifier=ref.identifier,
        identifier_type=ref.identifier_type,
        alias=alert.alias if alert is not None else ref.identifier,
        alert_public_id=alert.public_id if alert is not None else None,
        payload=body,
        **_attribution(principal, actor),
    )
    session.add(request)
    session.flush()
    return request


def _pending_create_exists(session: Session, workspace_id: int, ref: AlertRef) -> bool:
    return (
        session.scalars(
            select(AlertRequest.id)
            .where(
                AlertRequest.workspace_id == workspace_id,
                AlertRequest.alias == ref.identifier,
                AlertRequest.action == AlertAction.CREATE,
                AlertRequest.state == RequestState.PENDING,
            )
            .limit(1)
        ).first()
        is not None
    )


def get_request(session: Session, workspace_id: int, public_id: str) -> AlertRequest | None:
    if len(public_id) > 64:
        return None
    return session.scalars(
        select(AlertRequest).where(
            AlertRequest.workspace_id == workspace_id, AlertRequest.public_id == public_id
        )
    ).first()


def require_request(
    session: Session, workspace_id: int, public_id: str, *, include_pending: bool = False
) -> AlertRequest:
    """A request of the workspace, once processed (JSM parity) unless ``include_pending``.

    :raises NotFound: for an unknown request, or one still pending.
    """
    req = get_request(session, workspace_id, public_id)
    if req is None or (req.state is RequestState.PENDING and not include_pending):
        raise NotFound("Request does not exist or is not processed yet.", code="request_not_found")
    return req


def list_notes(
    session: Session, alert: Alert, *, offset: int, size: int
) -> tuple[list[AlertNote], int]:
    """One page of the alert's notes, newest first, and how many it has."""
    order = (AlertNote.created_at.desc(), AlertNote.id.desc())
    return _page(session, AlertNote, AlertNote.alert_id == alert.id, order, offset, size)


def list_logs(
    session: Session, alert: Alert, *, ascending: bool, offset: int, size: int
) -> tuple[list[AlertLog], int]:
    """One page of the alert's log, in the order it was written (or the reverse)."""
    order = (AlertLog.id.asc() if ascending else AlertLog.id.desc(),)
    return _page(session, AlertLog, AlertLog.alert_id == alert.id, order, offset, size)


def _page(
    session: Session,
    model: Any,
    where: ColumnElement[bool],
    order: tuple[Any, ...],
    offset: int,
    size: int,
) -> tuple[list[Any], int]:
    total = session.scalar(select(func.count()).select_from(model).where(where)) or 0
    rows = session.scalars(select(model).where(where).order_by(*order).offset(offset).limit(size))
    return list(rows), total


def record_finished(
    session: Session,
    principal: ApiPrincipal,
    status: str,
    *,
    ok: bool = True,
    action: AlertAction = AlertAction.CREATE,
    alias: str | None = None,
) -> AlertRequest:
    """Record a request that needs no processing (an event an integration ignored), with why."""
    integration = principal.integration
    request = AlertRequest(
        workspace_id=principal.workspace.id,
        action=action,
        state=RequestState.PROCESSED,
        identifier=alias,
        identifier_type="alias",
        alias=alias,
        payload={},
        actor=principal.actor[:255],
        integration_id=integration.public_id if integration else None,
        integration_name=integration.name if integration else None,
        integration_type=str(integration.type) if integration else None,
        processed_at=utcnow(),
        is_success=ok,
        status_message=status[:500],
    )
    session.add(request)
    session.flush()
    return request


# ── reads for other contexts ───────────────────────────────────────────────────────────────────


def alert_by_row_id(session: Session, alert_id: int) -> Alert | None:
    return session.get(Alert, alert_id)


def visible_alert(session: Session, workspace_id: int, public_id: str) -> Alert | None:
    """The workspace's alert with this public id (never another workspace's)."""
    return session.scalars(
        select(Alert).where(Alert.workspace_id == workspace_id, Alert.public_id == public_id)
    ).first()


def any_open(session: Session, alert_ids: Sequence[int]) -> bool:
    if not alert_ids:
        return False
    return (
        session.scalars(
            select(Alert.id).where(Alert.id.in_(alert_ids), Alert.status == AlertStatus.OPEN)
        ).first()
        is not None
    )


def alerts_by_row_ids(session: Session, alert_ids: Sequence[int]) -> list[Alert]:
    """These alerts, oldest first."""
    if not alert_ids:
        return []
    return list(
        session.scalars(
            select(Alert).where(Alert.id.in_(alert_ids)).order_by(Alert.created_at, Alert.id)
        )
    )


@dataclass(frozen=True, slots=True)
class AlertsOverview:
    """How many alerts, how many occurrences, since when; and the oldest few, as lines."""

    alerts: int
    occurrences: int
    first_seen: datetime | None
    oldest: list[Row[datetime, Priority, str, AlertStatus, int]]


def overview(session: Session, alert_ids: Sequence[int], *, oldest: int) -> AlertsOverview:
    """Totals of these alerts and the ``oldest`` first of them, in two statements that read only
    the columns they show (an incident's description is written on every change; loading each of
    its alerts whole, JSON columns decoded, made that cost grow with the incident)."""
    if not alert_ids:
        return AlertsOverview(0, 0, None, [])
    among = Alert.id.in_(alert_ids)
    total, occurrences, first_seen = session.execute(
        select(
            func.count(), func.coalesce(func.sum(Alert.count), 0), func.min(Alert.created_at)
        ).where(among)
    ).one()
    rows = session.execute(
        select(Alert.created_at, Alert.priority, Alert.message, Alert.status, Alert.count)
        .where(among)
        .order_by(Alert.created_at, Alert.id)
        .limit(oldest)
    ).all()
    return AlertsOverview(int(total), int(occurrences), first_seen, list(rows))


def notes_by_alert(session: Session, alert_ids: Sequence[int]) -> dict[int, list[AlertNote]]:
    """The notes of these alerts, oldest first, by alert row id."""
    notes: dict[int, list[AlertNote]] = {}
    if not alert_ids:
        return notes
    for note in session.scalars(
        select(AlertNote)
        .where(AlertNote.alert_id.in_(alert_ids))
        .order_by(AlertNote.created_at, AlertNote.id)
    ):
        notes.setdefault(note.alert_id, []).append(note)
    return notes
