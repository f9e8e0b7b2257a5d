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
from provider.ops.alerts.writes import alert_routes


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


route = alert_routes("ops_alerts_v2", __name__, "/v2/alerts", V2_WRITES)
bp = route.bp


@route.get("", "List alerts", Listing[BaseAlert], query=ListQuery)
def list_alerts(query: ListQuery) -> Listing[BaseAlert]:
    alerts, total = alert_search.search_listed(get_session(), g.workspace.id, query)
    return Listing[BaseAlert](
        data=[BaseAlert.of(a) for a in alerts],
        paging=paging(query.offset, query.size, total),
        **envelope(),
    )


@route.get("/count", "Count alerts", Data[AlertCount], query=CountQuery)
def count_alerts(query: CountQuery) -> Data[AlertCount]:
    _alerts, total = alert_search.search_alerts(
        get_session(), g.workspace.id, query=query.query, size=1
    )
    return Data[AlertCount](data=AlertCount(count=total), **envelope())


@route.get(
    "/requests/<request_id>",
    "The outcome of an asynchronous write",
    Data[OpsgenieRequestStatus],
    description="404 until the request is processed.",
    operation_id="getRequestStatus",
)
def request_status(request_id: str) -> Data[OpsgenieRequestStatus]:
    req = service.require_request(get_session(), g.workspace.id, request_id)
    return Data[OpsgenieRequestStatus](data=OpsgenieRequestStatus.of(req), **envelope())


@route.get("/<identifier>", "Get an alert", Data[Alert], query=IdentifierQuery)
def get_alert(identifier: str, query: IdentifierQuery) -> Data[Alert]:
    return Data[Alert](data=Alert.of(alert_named(identifier, query)), **envelope())


@route.get("/<identifier>/notes", "List notes (newest first)", Listing[Note], query=NotesQuery)
def list_notes(identifier: str, query: NotesQuery) -> Listing[Note]:
    notes, total = service.list_notes(
        get_session(), alert_named(identifier, query), offset=query.offset, size=query.size
    )
    data = [
        Note(note=n.note, owner=n.owner, created_at=n.created_at, offset=str(query.offset + i + 1))
        for i, n in enumerate(notes)
    ]
    return Listing[Note](data=data, paging=paging(query.offset, query.size, total), **envelope())
