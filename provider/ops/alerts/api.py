"""``/v1/alerts``: reads answer at once; writes record a request and answer 202 once it is durable."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint
from flask import g
from flask import request

from provider.db import get_session
from provider.db import read_only
from provider.errors import NotFound
from provider.ops.access.http import api_key_required
from provider.ops.access.http import principal
from provider.ops.access.principal import DELETE
from provider.ops.access.principal import READ
from provider.ops.access.principal import WRITE
from provider.ops.alerts import models
from provider.ops.alerts import search as alert_search
from provider.ops.alerts import service
from provider.ops.alerts.actions import ActionCommon
from provider.ops.alerts.actions import ActionQuery
from provider.ops.alerts.actions import AssignBody
from provider.ops.alerts.actions import DescriptionBody
from provider.ops.alerts.actions import EscalateBody
from provider.ops.alerts.actions import ExecuteActionBody
from provider.ops.alerts.actions import ExtraPropertiesBody
from provider.ops.alerts.actions import KeysBody
from provider.ops.alerts.actions import KeysQuery
from provider.ops.alerts.actions import MessageBody
from provider.ops.alerts.actions import NoteBody
from provider.ops.alerts.actions import PriorityBody
from provider.ops.alerts.actions import ResponderBody
from provider.ops.alerts.actions import SnoozeBody
from provider.ops.alerts.actions import TagsBody
from provider.ops.alerts.actions import TagsQuery
from provider.ops.alerts.actions import TagsRemoveBody
from provider.ops.alerts.models import AlertAction
from provider.ops.alerts.models import AlertRequest
from provider.ops.alerts.models import RequestState
from provider.ops.alerts.schemas import Accepted
from provider.ops.alerts.schemas import Alert
from provider.ops.alerts.schemas import AlertCreate
from provider.ops.alerts.schemas import AlertListQuery
from provider.ops.alerts.schemas import AlertLog
from provider.ops.alerts.schemas import AlertNote
from provider.ops.alerts.schemas import AliasQuery
from provider.ops.alerts.schemas import IdentifierQuery
from provider.ops.alerts.schemas import LogsQuery
from provider.ops.alerts.schemas import NotesQuery
from provider.ops.alerts.schemas import RequestStatus
from provider.ops.alerts.schemas import RequestStatusQuery
from provider.ops.alerts.service import AlertRef
from provider.schema.endpoint import endpoint
from provider.schema.pages import Page
from provider.schema.pages import page_of
from provider.schema.query import StrictValidation

bp = Blueprint("ops_alerts", __name__, url_prefix="/v1/alerts")

TAG = "Alerts"


def _accepted(req: AlertRequest) -> Accepted:
    get_session().commit()  # the request is durable before the caller hears 202
    took = round(time.perf_counter() - g.get("started", time.perf_counter()), 3)
    return Accepted(request_id=req.public_id, took=took)


def _alert(identifier: str, query: IdentifierQuery) -> models.Alert:
    return service.require_alert(
        get_session(), g.workspace.id, AlertRef.parse(identifier, query.identifier_type)
    )


@bp.get("")
@read_only
@api_key_required(READ)
@endpoint(
    "Search alerts",
    tag=TAG,
    query=AlertListQuery,
    responses={200: Page[Alert]},
    description=f"`offset + size` must be below {AlertListQuery.WINDOW}.",
    operation_id="listAlerts",
)
def list_alerts(query: AlertListQuery) -> Page[Alert]:
    alerts, total = alert_search.search_alerts(
        get_session(),
        g.workspace.id,
        query=query.query,
        sort=query.sort,
        order=query.order,
        time_from=query.time_from,
        time_to=query.time_to,
        offset=query.offset,
        size=query.size,
    )
    values = [Alert.of(a) for a in alerts]
    return Page[Alert](**page_of(values, total, query, window=query.WINDOW))


@bp.post("")
@api_key_required(WRITE)
@endpoint(
    "Create an alert (asynchronous)",
    tag=TAG,
    body=AlertCreate,
    query=StrictValidation,
    responses={202: Accepted},
    operation_id="createAlert",
)
def create_alert(body: AlertCreate, query: StrictValidation) -> Accepted:
    data = body.from_address(request.remote_addr or "")
    return _accepted(service.submit_create(get_session(), principal(), data))


@bp.get("/requests/<request_id>")
@read_only
@api_key_required(READ)
@endpoint(
    "The outcome of an asynchronous write",
    tag=TAG,
    query=RequestStatusQuery,
    responses={200: RequestStatus},
    operation_id="getRequestStatus",
)
def request_status(request_id: str, query: RequestStatusQuery) -> RequestStatus:
    req = service.get_request(get_session(), g.workspace.id, request_id)
    # Until processed, a request is "not found" (JSM parity) unless the caller asks to see it.
    if req is None or (req.state is RequestState.PENDING and not query.include_pending):
        raise NotFound("Request does not exist or is not processed yet.", code="request_not_found")
    return RequestStatus.of(req)


@bp.get("/alias")
@read_only
@api_key_required(READ)
@endpoint(
    "Get the alert with an alias",
    tag=TAG,
    query=AliasQuery,
    responses={200: Alert},
    errors=[404],
    operation_id="getAlertByAlias",
)
def get_alert_by_alias(query: AliasQuery) -> Alert:
    ref = AlertRef.parse(query.alias, "alias")
    return Alert.of(service.require_alert(get_session(), g.workspace.id, ref))


@bp.get("/<identifier>")
@read_only
@api_key_required(READ)
@endpoint("Get an alert", tag=TAG, query=IdentifierQuery, responses={200: Alert})
def get_alert(identifier: str, query: IdentifierQuery) -> Alert:
    return Alert.of(_alert(identifier, query))


@bp.get("/<identifier>/notes")
@read_only
@api_key_required(READ)
@endpoint(
    "List notes (newest first)",
    tag=TAG,
    query=NotesQuery,
    responses={200: Page[AlertNote]},
    operation_id="listAlertNotes",
)
def list_notes(identifier: str, query: NotesQuery) -> Page[AlertNote]:
    notes, total = service.list_notes(
        get_session(), _alert(identifier, query), offset=query.offset, size=query.size
    )
    return Page[AlertNote](**page_of([AlertNote.of(n) for n in notes], total, query))


@bp.get("/<identifier>/logs")
@api_key_required(READ)
@endpoint(
    "The alert's activity log",
    tag=TAG,
    query=LogsQuery,
    responses={200: Page[AlertLog]},
    operation_id="listAlertLogs",
)
def list_logs(identifier: str, query: LogsQuery) -> Page[AlertLog]:
    logs, total = service.list_logs(
        get_session(),
        _alert(identifier, query),
        ascending=query.order == "asc",
        offset=query.offset,
        size=query.size,
    )
    return Page[AlertLog](**page_of([AlertLog.of(entry) for entry in logs], total, query))


@dataclass(frozen=True, slots=True)
class Write:
    """An action on an existing alert: a request is recorded, then processed in the background.

    Every one answers 202 with the request's id once the request is committed.
    """

    method: str
    rule: str
    action: AlertAction
    body: type[ActionCommon]
    operation_id: str
    summary: str
    optional_body: bool = False
    query: type[ActionQuery] = ActionQuery
    permission: str = WRITE


A = AlertAction
WRITES = (
    Write("DELETE", "", A.DELETE, ActionCommon, "deleteAlert", "Delete an alert",
          optional_body=True, permission=DELETE),
    Write("POST", "acknowledge", A.ACKNOWLEDGE, ActionCommon, "acknowledgeAlert", "Acknowledge",
          optional_body=True),
    Write("POST", "unacknowledge", A.UNACKNOWLEDGE, ActionCommon, "unacknowledgeAlert",
          "Unacknowledge", optional_body=True),
    Write("POST", "close", A.CLOSE, ActionCommon, "closeAlert", "Close", optional_body=True),
    Write("POST", "assign", A.ASSIGN, AssignBody, "assignAlert", "Assign an owner"),
    Write("POST", "responders", A.ADD_RESPONDER, ResponderBody, "addResponder", "Add a responder"),
    Write("POST", "extra-properties", A.ADD_EXTRA_PROPERTIES, ExtraPropertiesBody,
          "addExtraProperties", "Add extra properties"),
    Write("DELETE", "extra-properties", A.DELETE_EXTRA_PROPERTIES, KeysBody,
          "deleteExtraProperties", "Remove extra properties", optional_body=True, query=KeysQuery),
    Write("POST", "tags", A.ADD_TAGS, TagsBody, "addTags", "Add tags"),
    Write("DELETE", "tags", A.REMOVE_TAGS, TagsRemoveBody, "removeTags", "Remove tags",
          optional_body=True, query=TagsQuery),
    Write("POST", "escalate", A.ESCALATE, EscalateBody, "escalateAlert", "Escalate"),
    Write("POST", "action", A.EXECUTE_ACTION, ExecuteActionBody, "executeAlertAction",
          "Run one of the alert's actions"),
    Write("POST", "snooze", A.SNOOZE, SnoozeBody, "snoozeAlert", "Snooze until endTime"),
    Write("POST", "notes", A.ADD_NOTE, NoteBody, "addNote", "Add a note"),
    Write("PATCH", "notes/<note_id>", A.UPDATE_NOTE, NoteBody, "updateNote", "Update a note"),
    Write("DELETE", "notes/<note_id>", A.DELETE_NOTE, ActionCommon, "deleteNote", "Delete a note",
          optional_body=True),
    Write("PATCH", "priority", A.UPDATE_PRIORITY, PriorityBody, "updatePriority",
          "Change the priority"),
    Write("PATCH", "message", A.UPDATE_MESSAGE, MessageBody, "updateMessage", "Change the message"),
    Write("PATCH", "description", A.UPDATE_DESCRIPTION, DescriptionBody, "updateDescription",
          "Change the description"),
)  # fmt: skip


def _write_view(write: Write) -> Callable[..., Any]:
    def view(
        identifier: str, body: ActionCommon, query: ActionQuery, note_id: str | None = None
    ) -> Accepted:
        ref = AlertRef.parse(identifier, query.identifier_type)
        req = service.submit_action(
            get_session(),
            principal(),
            write.action,
            ref,
            body.payload(),
            actor=body.user or None,
            note_id=note_id,
        )
        return _accepted(req)

    declared = endpoint(
        write.summary,
        tag=TAG,
        body=write.body,
        body_required=not write.optional_body,
        query=write.query,
        responses={202: Accepted},
        operation_id=write.operation_id,
    )
    return api_key_required(write.permission)(declared(view))


for _write in WRITES:
    bp.add_url_rule(
        f"/<identifier>/{_write.rule}".rstrip("/"),
        endpoint=_write.operation_id,
        view_func=_write_view(_write),
        methods=[_write.method],
    )
