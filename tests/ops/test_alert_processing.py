"""Alert requests are applied in order by process_pending: create, de-duplicate, act, fail."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from provider.ops.access.principal import ApiPrincipal
from provider.ops.alerts.listeners import NO_LISTENERS
from provider.ops.alerts.listeners import AlertListeners
from provider.ops.alerts.models import Alert
from provider.ops.alerts.models import AlertAction
from provider.ops.alerts.models import AlertEvent
from provider.ops.alerts.models import AlertLog
from provider.ops.alerts.models import AlertNote
from provider.ops.alerts.models import AlertRequest
from provider.ops.alerts.models import AlertStatus
from provider.ops.alerts.models import Priority
from provider.ops.alerts.processing import process_pending
from provider.ops.alerts.schemas import AlertCreate
from provider.ops.alerts.service import AlertRef
from provider.ops.alerts.service import submit_action
from provider.ops.alerts.service import submit_create
from provider.ops.workspaces.service import create_workspace


def _principal(session: Session, name: str = "Team") -> ApiPrincipal:
    workspace, _key, _code = create_workspace(session, name)
    return ApiPrincipal(workspace=workspace)


def _create(session: Session, principal: ApiPrincipal, **body: object) -> str:
    body.setdefault("message", "disk full")
    request = submit_create(session, principal, AlertCreate.from_json(body))
    session.commit()
    return request.public_id


def test_create_then_duplicate_counts_and_keeps_first_fields(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    principal = _principal(session)
    _create(session, principal, alias="db-1", priority="P2", message="first")
    _create(session, principal, alias="db-1", priority="P1", message="second", note="again")
    events: list[AlertEvent] = []
    hooks = AlertListeners([lambda _s, _a, event, _b: events.append(event)])

    assert process_pending(session_factory, listeners=hooks) == 2

    session.expire_all()
    (alert,) = session.scalars(select(Alert).where(Alert.workspace_id == principal.workspace.id))
    assert (alert.count, alert.message, alert.priority) == (2, "first", Priority.P2)
    assert events == [AlertEvent.CREATED, AlertEvent.DEDUPLICATED]
    actions = session.scalars(select(AlertLog.action).where(AlertLog.alert_id == alert.id)).all()
    assert AlertEvent.DEDUPLICATED in actions
    assert AlertEvent.NOTE_ADDED in actions


def test_a_duplicate_logs_its_message_and_note_as_the_intake_validated_them(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    # A duplicate is applied from its stored body without validating it again: what it logs
    # must be what validation made of the body (stripped, cut with an ellipsis), as before.
    principal = _principal(session)
    long_message = "  " + "x" * 200 + "  "
    note = "  spaces kept  "
    _create(session, principal, alias="db-1")
    request_id = _create(session, principal, alias="db-1", message=long_message, note=note)
    stored = session.scalars(
        select(AlertRequest.payload).where(AlertRequest.public_id == request_id)
    ).one()
    validated = AlertCreate.from_payload({k: v for k, v in stored.items() if k != "alertId"})
    assert validated.message == "x" * 129 + "…"

    assert process_pending(session_factory, listeners=NO_LISTENERS) == 2

    session.expire_all()
    (alert,) = session.scalars(select(Alert).where(Alert.workspace_id == principal.workspace.id))
    logged = session.scalars(
        select(AlertLog.message).where(
            AlertLog.alert_id == alert.id, AlertLog.action == AlertEvent.DEDUPLICATED
        )
    ).all()
    assert logged == [f"Alert de-duplicated; count 2: {validated.message}"]
    notes = session.scalars(select(AlertNote.note).where(AlertNote.alert_id == alert.id)).all()
    assert notes == [validated.note] == [note]


def test_closed_alert_frees_its_alias(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    principal = _principal(session)
    _create(session, principal, alias="a")
    process_pending(session_factory, listeners=NO_LISTENERS)
    submit_action(session, principal, AlertAction.CLOSE, AlertRef("a", "alias"))
    session.commit()
    _create(session, principal, alias="a")
    assert process_pending(session_factory, listeners=NO_LISTENERS) == 2
    rows = session.scalars(
        select(Alert).where(Alert.workspace_id == principal.workspace.id).order_by(Alert.id)
    ).all()
    assert [r.status for r in rows] == [AlertStatus.CLOSED, AlertStatus.OPEN]


def test_failing_hook_marks_request_failed_and_rolls_back(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    principal = _principal(session)
    request_id = _create(session, principal, alias="boom")

    def explode(_s: Session, _a: Alert, _e: AlertEvent, _b: object) -> None:
        raise RuntimeError("hook failed")

    hooks = AlertListeners([explode])
    assert process_pending(session_factory, listeners=hooks) == 1
    session.expire_all()
    assert session.scalars(select(Alert).where(Alert.alias == "boom")).first() is None
    from provider.ops.alerts.service import get_request

    req = get_request(session, principal.workspace.id, request_id)
    assert req is not None
    assert req.is_success is False
