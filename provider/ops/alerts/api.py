"""``/v1/alerts``: reads answer at once; writes record a request and answer 202 once it is durable.

The writes on an existing alert are the table in :mod:`provider.ops.alerts.writes`.
"""

from __future__ import annotations

from flask import g

from provider.db import get_session
from provider.ops.access.principal import READ
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
from provider.ops.alerts.writes import writes_blueprint
from provider.ops.routes import Routes
from provider.schema.pages import Page
from provider.schema.pages import page_of

TAG = "Alerts"
bp = writes_blueprint("ops_alerts", __name__, "/v1/alerts", WRITES, tag=TAG)
route = Routes(bp, TAG)


@route(
    "GET",
    "",
    READ,
    "Search alerts",
    query=AlertListQuery,
    responses={200: Page[Alert]},
    description=f"`offset + size` must be below {AlertListQuery.WINDOW}.",
    operation_id="listAlerts",
    read_only=True,
)
def list_alerts(query: AlertListQuery) -> Page[Alert]:
    alerts, total = alert_search.search_listed(get_session(), g.workspace.id, query)
    values = [Alert.of(a) for a in alerts]
    return Page[Alert](**page_of(values, total, query, window=query.WINDOW))


@route(
    "GET",
    "/requests/<request_id>",
    READ,
    "The outcome of an asynchronous write",
    query=RequestStatusQuery,
    responses={200: RequestStatus},
    operation_id="getRequestStatus",
    read_only=True,
)
def request_status(request_id: str, query: RequestStatusQuery) -> RequestStatus:
    req = service.require_request(
        get_session(), g.workspace.id, request_id, include_pending=query.include_pending
    )
    return RequestStatus.of(req)


@route(
    "GET",
    "/alias",
    READ,
    "Get the alert with an alias",
    query=AliasQuery,
    responses={200: Alert},
    errors=[404],
    operation_id="getAlertByAlias",
    read_only=True,
)
def get_alert_by_alias(query: AliasQuery) -> Alert:
    ref = AlertRef.parse(query.alias, "alias")
    return Alert.of(service.require_alert(get_session(), g.workspace.id, ref))


@route(
    "GET",
    "/<identifier>",
    READ,
    "Get an alert",
    query=IdentifierQuery,
    responses={200: Alert},
    read_only=True,
)
def get_alert(identifier: str, query: IdentifierQuery) -> Alert:
    return Alert.of(alert_named(identifier, query))


@route(
    "GET",
    "/<identifier>/notes",
    READ,
    "List notes (newest first)",
    query=NotesQuery,
    responses={200: Page[AlertNote]},
    operation_id="listAlertNotes",
    read_only=True,
)
def list_notes(identifier: str, query: NotesQuery) -> Page[AlertNote]:
    notes, total = service.list_notes(
        get_session(), alert_named(identifier, query), offset=query.offset, size=query.size
    )
    return Page[AlertNote](**page_of([AlertNote.of(n) for n in notes], total, query))


@route(
    "GET",
    "/<identifier>/logs",
    READ,
    "The alert's activity log",
    query=LogsQuery,
    responses={200: Page[AlertLog]},
    operation_id="listAlertLogs",
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
