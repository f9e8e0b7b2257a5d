"""``/v2/alerts``: Opsgenie's alert API over the same requests, service and bodies as ``/v1``.

Reads answer ``{data, took, requestId}`` (lists add ``paging``), writes answer 202
``{result, took, requestId}``, errors ``{message, took, requestId}`` (registered for the prefix by
the app). JSM's ``/jsm/ops/integration/v2/alerts…`` reaches these routes too
(:mod:`provider.ops.paths`).
"""

from __future__ import annotations

from dataclasses import replace

from flask import g

from provider.db import get_session
from provider.ops.access.opsgenie import Data
from provider.ops.access.opsgenie import Listing
from provider.ops.access.opsgenie import envelope
from provider.ops.access.opsgenie import paging
from provider.ops.access.principal import READ
from provider.ops.alerts import search as alert_search
from provider.ops.alerts import service
from provider.ops.alerts.opsgenie import Alert
from provider.ops.alerts.opsgenie import AlertCount
from provider.ops.alerts.opsgenie import BaseAlert
from provider.ops.alerts.opsgenie import CountQuery
from provider.ops.alerts.opsgenie import DescriptionUpdate
from provider.ops.alerts.opsgenie import ListQuery
from provider.ops.alerts.opsgenie import Note
from provider.ops.alerts.opsgenie import NotesQuery
from provider.ops.alerts.opsgenie import OpsgenieRequestStatus
from provider.ops.alerts.schemas import IdentifierQuery
from provider.ops.alerts.writes import WRITES
from provider.ops.alerts.writes import Write
from provider.ops.alerts.writes import alert_named
from provider.ops.alerts.writes import writes_blueprint
from provider.ops.routes import Routes


def _v2(operation_id: str, rule: str, *methods: str, **changes: object) -> tuple[Write, ...]:
    """The ``/v1`` write ``operation_id`` at Opsgenie's ``rule``, once per method."""
    write = next(w for w in WRITES if w.operation_id == operation_id)
    return tuple(
        replace(
            write,
            rule=rule,
            method=method,
            operation_id=f"{operation_id}{method.capitalize()}"
            if len(methods) > 1
            else operation_id,
            **changes,  # type: ignore[arg-type]
        )
        for method in methods
    )


V2_WRITES = (
    *_v2("deleteAlert", "", "DELETE"),
    *_v2("acknowledgeAlert", "acknowledge", "POST"),
    *_v2("unacknowledgeAlert", "unacknowledge", "POST"),
    *_v2("closeAlert", "close", "POST"),
    *_v2("snoozeAlert", "snooze", "POST"),
    *_v2("escalateAlert", "escalate", "POST"),
    *_v2("assignAlert", "assign", "POST"),
    *_v2("addResponder", "responders", "POST"),
    *_v2("addNote", "notes", "POST"),
    *_v2("addTags", "tags", "POST"),
    *_v2("removeTags", "tags", "DELETE"),
    *_v2("addExtraProperties", "details", "POST", summary="Add details"),
    *_v2("deleteExtraProperties", "details", "DELETE", summary="Remove details"),
    *_v2("updateMessage", "message", "PUT", "PATCH"),
    *_v2("updateDescription", "description", "PUT", "PATCH", body=DescriptionUpdate),
    *_v2("updatePriority", "priority", "PUT", "PATCH"),
)


TAG = "Alerts"
bp = writes_blueprint("ops_alerts_v2", __name__, "/v2/alerts", V2_WRITES, tag=TAG)
route = Routes(bp, TAG)


@route(
    "GET",
    "",
    READ,
    "List alerts",
    query=ListQuery,
    responses={200: Listing[BaseAlert]},
    description=f"`offset + limit` must be below {ListQuery.WINDOW}.",
    operation_id="listAlerts",
    read_only=True,
)
def list_alerts(query: ListQuery) -> Listing[BaseAlert]:
    alerts, total = alert_search.search_listed(get_session(), g.workspace.id, query)
    return Listing[BaseAlert](
        data=[BaseAlert.of(a) for a in alerts],
        paging=paging(query.offset, query.size, total),
        **envelope(),
    )


@route(
    "GET",
    "/count",
    READ,
    "Count alerts",
    query=CountQuery,
    responses={200: Data[AlertCount]},
    operation_id="countAlerts",
    read_only=True,
)
def count_alerts(query: CountQuery) -> Data[AlertCount]:
    _alerts, total = alert_search.search_alerts(
        get_session(), g.workspace.id, query=query.query, size=1
    )
    return Data[AlertCount](data=AlertCount(count=total), **envelope())


@route(
    "GET",
    "/requests/<request_id>",
    READ,
    "The outcome of an asynchronous write",
    responses={200: Data[OpsgenieRequestStatus]},
    description="404 until the request is processed.",
    operation_id="getRequestStatus",
    read_only=True,
)
def request_status(request_id: str) -> Data[OpsgenieRequestStatus]:
    req = service.require_request(get_session(), g.workspace.id, request_id)
    return Data[OpsgenieRequestStatus](data=OpsgenieRequestStatus.of(req), **envelope())


@route(
    "GET",
    "/<identifier>",
    READ,
    "Get an alert",
    query=IdentifierQuery,
    responses={200: Data[Alert]},
    operation_id="getAlert",
    read_only=True,
)
def get_alert(identifier: str, query: IdentifierQuery) -> Data[Alert]:
    return Data[Alert](data=Alert.of(alert_named(identifier, query)), **envelope())


@route(
    "GET",
    "/<identifier>/notes",
    READ,
    "List notes (newest first)",
    query=NotesQuery,
    responses={200: Listing[Note]},
    operation_id="listNotes",
    read_only=True,
)
def list_notes(identifier: str, query: NotesQuery) -> Listing[Note]:
    notes, total = service.list_notes(
        get_session(), alert_named(identifier, query), offset=query.offset, size=query.size
    )
    data = [
        Note(note=n.note, owner=n.owner, created_at=n.created_at, offset=str(query.offset + i + 1))
        for i, n in enumerate(notes)
    ]
    return Listing[Note](data=data, paging=paging(query.offset, query.size, total), **envelope())
