"""``/v1/alerts``: reads answer at once; writes record a request and answer 202 once it is durable.

The writes on an existing alert are the table in :mod:`provider.ops.alerts.writes`.
"""

from __future__ import annotations

from flask import g

from provider.db import get_session
from provider.ops.alerts import search as alert_search
from provider.ops.alerts import service
from provider.ops.alerts.schemas import Alert
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
from provider.ops.alerts.writes import WRITES
from provider.ops.alerts.writes import alert_named
from provider.ops.alerts.writes import alert_routes
from provider.schema.pages import Page
from provider.schema.pages import page_of

route = alert_routes("ops_alerts", __name__, "/v1/alerts", WRITES)
bp = route.bp


@route.get("", "Search alerts", Page[Alert], query=AlertListQuery)
def list_alerts(query: AlertListQuery) -> Page[Alert]:
    alerts, total = alert_search.search_listed(get_session(), g.workspace.id, query)
    values = [Alert.of(a) for a in alerts]
    return Page[Alert](**page_of(values, total, query, window=query.WINDOW))


@route.get(
    "/requests/<request_id>",
    "The outcome of an asynchronous write",
    RequestStatus,
    query=RequestStatusQuery,
    operation_id="getRequestStatus",
)
def request_status(request_id: str, query: RequestStatusQuery) -> RequestStatus:
    req = service.require_request(
        get_session(), g.workspace.id, request_id, include_pending=query.include_pending
    )
    return RequestStatus.of(req)


@route.get("/alias", "Get the alert with an alias", Alert, query=AliasQuery, errors=[404])
def get_alert_by_alias(query: AliasQuery) -> Alert:
    ref = AlertRef.parse(query.alias, "alias")
    return Alert.of(service.require_alert(get_session(), g.workspace.id, ref))


@route.get("/<identifier>", "Get an alert", Alert, query=IdentifierQuery)
def get_alert(identifier: str, query: IdentifierQuery) -> Alert:
    return Alert.of(alert_named(identifier, query))


@route.get(
    "/<identifier>/notes",
    "List notes (newest first)",
    Page[AlertNote],
    query=NotesQuery,
    operation_id="listAlertNotes",
)
def list_notes(identifier: str, query: NotesQuery) -> Page[AlertNote]:
    notes, total = service.list_notes(
        get_session(), alert_named(identifier, query), offset=query.offset, size=query.size
    )
    return Page[AlertNote](**page_of([AlertNote.of(n) for n in notes], total, query))


@route.get(
    "/<identifier>/logs",
    "The alert's activity log",
    Page[AlertLog],
    query=LogsQuery,
    operation_id="listAlertLogs",
    read_only=False,
)
def list_logs(identifier: str, query: LogsQuery) -> Page[AlertLog]:
    logs, total = service.list_logs(
        get_session(),
        alert_named(identifier, query),
        ascending=query.order == "asc",
        offset=query.offset,
        size=query.size,
    )
    return Page[AlertLog](**page_of([AlertLog.of(entry) for entry in logs], total, query))
