"""Integration keys, incoming events (payload → action → alert request) and outgoing actions.

An event's decision becomes an ordinary alert request through the alerts part's submit
functions, so de-duplication and processing are the same as for ``/v1/alerts``. Every event gets
a request id: when nothing is to be done (ignored, no match, no such alert) the request is
recorded as already processed, with the reason as its status.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.errors import NotFound
from provider.errors import ValidationFailed
from provider.ops.access.principal import CONFIGURE
from provider.ops.access.principal import DELETE
from provider.ops.access.principal import READ
from provider.ops.access.principal import WRITE
from provider.ops.access.principal import ApiPrincipal
from provider.ops.alerts import service as alerts
from provider.ops.alerts.service import Alert
from provider.ops.alerts.service import AlertAction
from provider.ops.alerts.service import AlertCreate
from provider.ops.alerts.service import AlertEvent
from provider.ops.alerts.service import AlertRef
from provider.ops.alerts.service import AlertRequest
from provider.ops.alerts.service import BatchState
from provider.ops.alerts.service import alert_to_json
from provider.ops.alerts.service import submit_action
from provider.ops.alerts.service import submit_create
from provider.ops.integrations import engine as action_engine
from provider.ops.integrations.engine import Decision
from provider.ops.integrations.engine import IncomingType
from provider.ops.integrations.models import Integration
from provider.ops.integrations.models import IntegrationAction
from provider.ops.integrations.service import action_spec
from provider.ops.integrations.service import find_by_key
from provider.ops.integrations.service import list_actions
from provider.ops.lang import filter_schemas
from provider.ops.lang import filters
from provider.ops.lang.regex import Budget
from provider.ops.workspaces.service import Workspace
from provider.outbox.kinds import Kind
from provider.outbox.kinds import Operation
from provider.outbox.queue import enqueue

logger = logging.getLogger(__name__)

_HIDDEN_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization", "x-api-key"})
_HIDDEN_QUERY = frozenset({"apikey", "api_key", "key", "token"})

_ACTION_FOR = {
    IncomingType.CREATE: AlertAction.CREATE,
    IncomingType.CLOSE: AlertAction.CLOSE,
    IncomingType.ACKNOWLEDGE: AlertAction.ACKNOWLEDGE,
    IncomingType.ADD_NOTE: AlertAction.ADD_NOTE,
}

#: Which alert change fires an outgoing action mapped to ``actionMapping.type``.
EVENT_TRIGGERS: dict[AlertEvent, str] = {
    AlertEvent.CREATED: "create",
    AlertEvent.ACKNOWLEDGED: "acknowledge",
    AlertEvent.UNACKNOWLEDGED: "unacknowledge",
    AlertEvent.CLOSED: "close",
    AlertEvent.DELETED: "delete",
    AlertEvent.NOTE_ADDED: "addNote",
    AlertEvent.TAGS_ADDED: "addTags",
    AlertEvent.TAGS_REMOVED: "removeTags",
    AlertEvent.RESPONDER_ADDED: "addResponder",
    AlertEvent.ASSIGNED: "assignOwnership",
    AlertEvent.ESCALATED: "escalate",
    AlertEvent.SNOOZED: "snooze",
    AlertEvent.PRIORITY_CHANGED: "updatePriority",
    AlertEvent.MESSAGE_CHANGED: "updateMessage",
    AlertEvent.DESCRIPTION_CHANGED: "updateDescription",
    AlertEvent.EXTRA_PROPERTIES_ADDED: "addExtraProperties",
}
_WIRE_ACTION = {
    "create": "Create",
    "acknowledge": "Acknowledge",
    "unacknowledge": "UnAcknowledge",
    "close": "Close",
    "delete": "Delete",
    "addNote": "AddNote",
    "addTags": "AddTags",
    "removeTags": "RemoveTags",
    "addResponder": "AddResponder",
    "assignOwnership": "AssignOwnership",
    "escalate": "Escalate",
    "snooze": "Snooze",
    "updatePriority": "UpdatePriority",
    "updateMessage": "UpdateMessage",
    "updateDescription": "UpdateDescription",
    "addExtraProperties": "AddExtraProperties",
}


# ---------------------------------------------------------------------------------------------
# Keys


def principal_for(integration: Integration, workspace: Workspace) -> ApiPrincipal:
    """The caller an integration key stands for: its workspace, limited by its access flags.

    A disabled integration's key still identifies it (so the answer is 403, not 401) but may
    do nothing.
    """
    permissions: set[str] = set()
    if integration.enabled:
        for flag, permission in (
            (integration.allow_read_access, READ),
            (integration.allow_write_access, WRITE),
            (integration.allow_delete_access, DELETE),
            (integration.allow_configuration_access, CONFIGURE),
        ):
            if flag:
                permissions.add(permission)
    return ApiPrincipal(
        workspace=workspace,
        integration=integration,
        permissions=frozenset(permissions),
        key_id=f"integration:{integration.id}",
    )


def resolve_integration_key(session: Session, key: str) -> ApiPrincipal | None:
    """Key resolver for the ``/v1`` auth registry."""
    integration = find_by_key(session, key)
    if integration is None:
        return None
    workspace = session.get(Workspace, integration.workspace_id)
    if workspace is None:
        return None
    return principal_for(integration, workspace)


# ---------------------------------------------------------------------------------------------
# Incoming events


def build_context(
    raw: object,
    *,
    integration_type: str = "",
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The namespace filters and templates see: the payload's fields plus ``_payload``,
    ``_headers`` and ``_url`` (credentials left out), and for e-mail the seed's field names."""
    context: dict[str, Any] = dict(raw) if isinstance(raw, Mapping) else {}
    context["_payload"] = raw
    context["_headers"] = {
        k: v for k, v in (headers or {}).items() if k.lower() not in _HIDDEN_HEADERS
    }
    context["_url"] = {k: v for k, v in (query or {}).items() if k.lower() not in _HIDDEN_QUERY}
    if integration_type.lower() == "email" or ("subject" in context and "from" in context):
        _email_fields(context)
    return context


def _email_fields(context: dict[str, Any]) -> None:
    """Accept common mail-to-JSON shapes under the names the JSM e-mail integration uses."""
    sender = context.get("from")
    if "from_address" not in context:
        if isinstance(sender, Mapping):
            context["from_address"] = sender.get("address") or sender.get("email") or ""
            context.setdefault("from_name", sender.get("name") or "")
        elif isinstance(sender, str):
            name, _, rest = sender.rpartition("<")
            context["from_address"] = rest.rstrip(">").strip() if rest.endswith(">") else sender
            if name.strip():
                context.setdefault("from_name", name.strip().strip('"'))
    if "message" not in context:
        for body in ("body", "text", "body_plain", "plain"):
            if isinstance(context.get(body), str):
                context["message"] = context[body]
                break


@dataclass(slots=True)
class IngestResult:
    decision: Decision
    request: AlertRequest
    context: dict[str, Any]


def decide_for(session: Session, integration: Integration, context: Mapping[str, Any]) -> Decision:
    actions = list_actions(session, integration, direction="incoming")
    return action_engine.decide([action_spec(a) for a in actions], context)


def ingest(
    session: Session,
    principal: ApiPrincipal,
    integration: Integration,
    context: Mapping[str, Any],
    *,
    source_ip: str = "",
    decision: Decision | None = None,
) -> IngestResult:
    """Run an integration's incoming actions on one event and record the resulting request.

    ``decision``: what :func:`decide_for` made of ``context`` already, if the caller ran it.
    """
    if decision is None:
        decision = decide_for(session, integration, context)
    action = decision.action
    rendered = decision.rendered
    if action is None or action.type == IncomingType.IGNORE or rendered is None:
        return IngestResult(
            decision, alerts.record_finished(session, principal, decision.status), dict(context)
        )
    fields = rendered.fields
    kind = IncomingType(action.type)
    if kind is IncomingType.CREATE:
        body = {
            "message": fields["message"],
            "alias": fields["alias"] or None,
            "description": fields["description"],
            "entity": fields["entity"],
            "source": fields["source"],
            "user": fields["user"],
            "note": fields["note"],
            "priority": fields["priority"],
            "tags": fields["tags"],
            "actions": fields["actions"],
            "extraProperties": fields["details"],
            "responders": fields["responders"],
        }
        try:
            data = AlertCreate.from_json(body, strict=False, default_source=source_ip)
        except ValidationFailed as e:
            status = f"Rendered alert is invalid: {e.message}"
            return IngestResult(
                decision,
                alerts.record_finished(session, principal, status, ok=False),
                dict(context),
            )
        return IngestResult(decision, submit_create(session, principal, data), dict(context))
    alias = fields["alias"]
    if not alias:
        status = f"Action '{action.name}' rendered no alias; it cannot find the alert"
        request = alerts.record_finished(
            session, principal, status, ok=False, action=_ACTION_FOR[kind]
        )
        return IngestResult(decision, request, dict(context))
    extra = {k: fields[k] for k in ("note", "user", "source") if fields.get(k)}
    try:
        request = submit_action(
            session,
            principal,
            _ACTION_FOR[kind],
            AlertRef(alias, "alias"),
            extra,
            actor=fields.get("user") or None,
        )
    except NotFound:
        request = alerts.record_finished(
            session,
            principal,
            "Alert does not exist",
            ok=False,
            action=_ACTION_FOR[kind],
            alias=alias,
        )
    return IngestResult(decision, request, dict(context))


# ---------------------------------------------------------------------------------------------
# Outgoing actions


# An integration's enabled outgoing actions, in the order they are considered.
_OUTGOING = (
    select(IntegrationAction, Integration)
    .join(Integration, Integration.id == IntegrationAction.integration_id)
    .where(
        Integration.workspace_id == bindparam("workspace_id"),
        Integration.enabled.is_(True),
        IntegrationAction.direction == "outgoing",
        IntegrationAction.enabled.is_(True),
    )
    .order_by(IntegrationAction.rank, IntegrationAction.id)
)


@dataclass(slots=True)
class _Outgoing:
    """An outgoing action as alert changes consult it, its filter parsed on first use."""

    action: IntegrationAction
    integration: Integration
    trigger: str | None
    parsed: filters.Filter | None = None

    def matches(self, alert_json: Mapping[str, Any], budget: Budget) -> bool:
        if self.parsed is None:
            self.parsed = filter_schemas.stored_filter(self.action.filter)
        return filters.evaluate(self.parsed, alert_json, budget)


def _outgoing_of(session: Session, workspace_id: int) -> list[_Outgoing]:
    return [
        _Outgoing(action, integration, (action.action_mapping or {}).get("type"))
        for action, integration in session.execute(_OUTGOING, {"workspace_id": workspace_id})
    ]


class OutgoingActions:
    """Alert listener: queue a webhook for each enabled outgoing action a change triggers.

    Outgoing actions of every enabled integration of the alert's workspace are considered; an
    action's filter is evaluated against the alert as the API shows it, all of them within the
    alert's one pattern budget. A prepared batch reads each workspace's actions once, and parses
    each filter once, rather than for every change: most workspaces have none, and a storm's
    changes each paid a statement to learn that.
    """

    __slots__ = ("_prepared",)

    def __init__(self) -> None:
        self._prepared: BatchState[dict[int, list[_Outgoing]]] = BatchState()

    def prepare(self, session: Session, alerts: Iterable[Alert]) -> None:
        self._prepared.begin(session, {})

    def finish(self, session: Session) -> None:
        self._prepared.end(session)

    def __call__(self, session: Session, alert: Alert, event: AlertEvent, budget: Budget) -> None:
        trigger = EVENT_TRIGGERS.get(event)
        if trigger is None:
            return
        read = self._prepared.get(session)
        outgoing = read.get(alert.workspace_id) if read is not None else None
        if outgoing is None:
            outgoing = _outgoing_of(session, alert.workspace_id)
            if read is not None:
                read[alert.workspace_id] = outgoing
        if outgoing:
            _queue_matching(session, alert, event, trigger, outgoing, budget)


def _queue_matching(
    session: Session,
    alert: Alert,
    event: AlertEvent,
    trigger: str,
    outgoing: list[_Outgoing],
    budget: Budget,
) -> None:
    alert_json = alert_to_json(alert)
    for candidate in outgoing:
        if candidate.trigger != trigger or not candidate.matches(alert_json, budget):
            continue
        action, integration = candidate.action, candidate.integration
        props = action.type_specific_properties or {}
        body = {
            "action": _WIRE_ACTION.get(trigger, trigger),
            "alert": alert_json,
            "integrationId": integration.public_id,
            "integrationName": integration.name,
            "integrationType": integration.type,
            "actionName": action.name,
            "sentAt": alert_json["updatedAt"],
        }
        enqueue(
            session,
            installation_id=None,
            kind=Kind.WEBHOOK,
            operation=Operation.SEND,
            # One message per change: coalescing two changes would lose the first one.
            entity_id=f"{action.public_id}:{uuid.uuid4()}",
            group_key=str(alert.workspace_id),
            payload={
                "url": props.get("url", ""),
                "method": "POST",
                "headers": dict(props.get("headers") or {}),
                "body": body,
                "actionId": action.public_id,
                "integrationId": integration.public_id,
            },
        )
        logger.info(
            "outgoing action queued action=%s alert=%s event=%s",
            action.public_id,
            alert.public_id,
            event.value,
        )
