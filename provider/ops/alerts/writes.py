"""What ``/v1`` and ``/v2`` alerts share: the writes as one table, creation, naming an alert.

The ``/v1`` routes and Opsgenie's ``/v2`` routes serve the same writes under their own paths, so
both are built from :data:`WRITES`.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint
from flask import g
from flask import request

from provider.db import get_session
from provider.ops.access.http import api_key_required
from provider.ops.access.http import principal
from provider.ops.access.http import took
from provider.ops.access.principal import DELETE
from provider.ops.access.principal import WRITE
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
from provider.ops.alerts.intake import INTAKE
from provider.ops.alerts.models import Alert
from provider.ops.alerts.models import AlertAction
from provider.ops.alerts.models import AlertRequest
from provider.ops.alerts.schemas import Accepted
from provider.ops.alerts.schemas import AlertCreate
from provider.ops.alerts.schemas import IdentifierQuery
from provider.ops.alerts.service import AlertRef
from provider.ops.routes import Routes
from provider.schema.endpoint import endpoint
from provider.schema.query import StrictValidation

TAG = "Alerts"
CREATE = endpoint(
    "Create an alert (asynchronous)",
    tag=TAG,
    body=AlertCreate,
    query=StrictValidation,
    responses={202: Accepted},
    operation_id="createAlert",
)


def create(body: AlertCreate) -> Accepted:
    """Record a create request; its ``source`` is the caller's address when the body has none.

    The row is committed with the creates that arrive beside it (:mod:`.intake`); the view's
    authentication must not have opened the request's session (``recent=True`` does not).
    """
    data = body.from_address(request.remote_addr or "")
    row = service.create_request_row(principal(), data)
    INTAKE.get().insert(row)
    return Accepted(request_id=row["public_id"], took=took())


def alert_named(identifier: str, query: IdentifierQuery) -> Alert:
    """The caller's alert that ``{identifier}`` names, read as ``identifierType`` says.

    :raises NotFound:
    """
    ref = AlertRef.parse(identifier, query.identifier_type)
    return service.require_alert(get_session(), g.workspace.id, ref)


def accepted(req: AlertRequest) -> Accepted:
    """Commit the request, then answer with its id: it is durable before the caller hears 202."""
    get_session().commit()
    return Accepted(request_id=req.public_id, took=took())


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


def write_view(write: Write, *, tag: str) -> Callable[..., Any]:
    """The view of ``write``: parse, record the request, commit, answer 202."""

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
        return accepted(req)

    declared = endpoint(
        write.summary,
        tag=tag,
        body=write.body,
        body_required=not write.optional_body,
        query=write.query,
        responses={202: Accepted},
        operation_id=write.operation_id,
    )
    return api_key_required(write.permission, recent=True)(declared(view))


def alert_routes(name: str, import_name: str, url_prefix: str, writes: Iterable[Write]) -> Routes:
    """An alert API: its blueprint takes the alert writes (the create, and ``writes`` on an
    existing alert); its reads, declared through the routes returned, never write.

    ``/v1`` and ``/v2`` take the same writes at their own paths; each adds the reads, which
    answer in its own shape.
    """
    bp = Blueprint(name, import_name, url_prefix=url_prefix)

    @api_key_required(WRITE, recent=True)
    @CREATE
    def create_alert(body: AlertCreate, query: StrictValidation) -> Accepted:
        return create(body)

    bp.add_url_rule("", view_func=create_alert, methods=["POST"])
    for write in writes:
        bp.add_url_rule(
            f"/<identifier>/{write.rule}".rstrip("/"),
            endpoint=write.operation_id,
            view_func=write_view(write, tag=TAG),
            methods=[write.method],
        )
    return Routes(bp, TAG, read_only=True)
