"""The OpenAPI 3.1 document of ``/v1``, written by hand as Python data.

One place describes every operation; the helpers below only remove repetition (the error
responses every operation shares, pagination, the 202 shape). No Flask import: the document is
data, served by :mod:`provider.ops.api.openapi` and checked against the app by the tests (every
route documented, every response conforming while the API is fuzzed).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

from provider.ops.alerts.models import AlertAction
from provider.ops.alerts.models import AlertEvent
from provider.ops.alerts.models import Priority
from provider.ops.alerts.schemas import RESPONDER_TYPES
from provider.ops.alerts.schemas import VISIBLE_TO_TYPES
from provider.ops.components.models import ComponentType
from provider.ops.components.models import Tier
from provider.ops.incidents.mapping import MatchType as MappingType
from provider.ops.incidents.models import IncidentStatus
from provider.ops.incidents.models import ReviewStatus
from provider.ops.incidents.rules import ResolvePolicy
from provider.ops.incidents.rules import RuleAction
from provider.ops.integrations.schemas import DIRECTIONS
from provider.ops.integrations.schemas import GROUP_TYPES
from provider.ops.integrations.schemas import INCOMING_TYPES
from provider.ops.integrations.schemas import OUTGOING_TRIGGERS
from provider.ops.integrations.schemas import OUTGOING_TYPES
from provider.ops.lang.filters import MatchType
from provider.ops.lang.filters import Operation

Schema = dict[str, Any]

JSON = "application/json"
ERROR_STATUSES = {
    400: ("BadRequest", "The body is not JSON (or not an object), or text contains NUL."),
    401: ("Unauthorized", "No API key, or the key is not valid."),
    403: ("Forbidden", "The key may not do this (permissions, or a disabled integration)."),
    404: ("NotFound", "No such object in the caller's workspace."),
    409: ("Conflict", "The object conflicts with one that exists (a duplicate name)."),
    413: ("PayloadTooLarge", "The body is larger than the server accepts."),
    422: ("ValidationFailed", "A field, parameter, query or page is not valid."),
    429: ("TooManyRequests", "The key's rate limit is exhausted; retry after Retry-After."),
}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    """``schema`` or ``null`` (OpenAPI 3.1 has no ``nullable``)."""
    return {"anyOf": [schema, {"type": "null"}]}


def obj(
    properties: Mapping[str, Schema],
    *,
    required: Iterable[str] = (),
    closed: bool = True,
    description: str | None = None,
    examples: list[Schema] | None = None,
) -> Schema:
    """An object schema; response objects are ``closed`` so an undocumented field is a failure."""
    out: Schema = {"type": "object", "properties": dict(properties)}
    if required := list(required):
        out["required"] = required
    if closed:
        out["additionalProperties"] = False
    if description:
        out["description"] = description
    if examples:
        out["examples"] = examples
    return out


def string(max_length: int | None = None, **extra: Any) -> Schema:
    out: Schema = {"type": "string", **extra}
    if max_length is not None:
        out["maxLength"] = max_length
    return out


def enum(values: Iterable[str], **extra: Any) -> Schema:
    return {"type": "string", "enum": list(values), **extra}


TIMESTAMP = string(format="date-time", description="ISO 8601 UTC with milliseconds.")
TIME_INPUT = {
    "description": "ISO 8601 with a zone (`Z` or an offset), or epoch milliseconds.",
    "oneOf": [string(format="date-time"), {"type": "integer"}],
}
PATH_SEGMENT = string(512, minLength=1, pattern="^[^/]+$")


# ---------------------------------------------------------------------------------------------
# Schemas


def _component_schemas() -> dict[str, Schema]:
    tier = enum(t.value for t in Tier)
    kind = enum(t.value for t in ComponentType)
    url = nullable(string(2000, description="An http(s) URL; null clears it."))
    return {
        "Component": obj(
            {
                "id": string(),
                "name": string(255),
                "description": string(),
                "url": nullable(string()),
                "avatarUrl": nullable(string()),
                "tier": tier,
                "componentType": kind,
                "isFallback": {
                    "type": "boolean",
                    "description": "The workspace's fallback component; it cannot be deleted.",
                },
                "createdAt": TIMESTAMP,
                "updatedAt": TIMESTAMP,
            },
            required=[
                "id",
                "name",
                "description",
                "url",
                "avatarUrl",
                "tier",
                "componentType",
                "isFallback",
                "createdAt",
                "updatedAt",
            ],
        ),
        "ComponentCreate": obj(
            {
                "name": string(255, minLength=1, description="Unique in the workspace."),
                "description": nullable(string(5000)),
                "url": url,
                "avatarUrl": url,
                "tier": tier,
                "componentType": kind,
            },
            required=["name"],
            closed=False,
        ),
        "ComponentUpdate": obj(
            {
                "name": string(255, minLength=1),
                "description": nullable(string(5000)),
                "url": url,
                "avatarUrl": url,
                "tier": tier,
                "componentType": kind,
            },
            closed=False,
            description="At least one field.",
        ),
    }


def _alert_schemas() -> dict[str, Schema]:
    priority = enum(p.value for p in Priority)
    responder = obj({"id": string(), "type": enum(RESPONDER_TYPES)}, required=["id", "type"])
    visible = obj({"id": string(), "type": enum(VISIBLE_TO_TYPES)}, required=["id", "type"])

    def recipient_input(types: Iterable[str]) -> Schema:
        return obj(
            {
                "id": string(255),
                "name": string(255),
                "username": string(255),
                "type": enum(types),
            },
            required=["type"],
            closed=False,
            description="`type` and one of `id`, `name`, `username`.",
        )

    extra_value = {"type": ["string", "number", "boolean", "null"]}
    common = {
        "user": string(description="Who did it (≤100, longer is truncated)."),
        "source": string(description="Where it came from (≤100, longer is truncated)."),
        "note": string(description="A note to add (≤25000, longer is truncated)."),
    }
    return {
        "Alert": obj(
            {
                "id": string(),
                "tinyId": string(),
                "createdAt": TIMESTAMP,
                "updatedAt": TIMESTAMP,
                "message": string(),
                "entity": string(),
                "source": string(),
                "status": enum(("open", "acked", "snoozed", "closed")),
                "alias": string(),
                "tags": {"type": "array", "items": string()},
                "extraProperties": {"type": "object", "additionalProperties": extra_value},
                "description": string(),
                "acknowledged": {"type": "boolean"},
                "count": {"type": "integer", "minimum": 1},
                "owner": string(),
                "snoozed": {"type": "boolean"},
                "snoozedUntil": nullable(TIMESTAMP),
                "lastOccurredAt": TIMESTAMP,
                "integrationType": string(),
                "integrationName": string(),
                "priority": priority,
                "responders": {"type": "array", "items": responder},
                "visibleTo": {"type": "array", "items": visible},
                "actions": {"type": "array", "items": string()},
                "seen": {"type": "boolean"},
            },
            required=[
                "id",
                "tinyId",
                "createdAt",
                "updatedAt",
                "message",
                "entity",
                "source",
                "status",
                "alias",
                "tags",
                "extraProperties",
                "description",
                "acknowledged",
                "count",
                "owner",
                "snoozed",
                "snoozedUntil",
                "lastOccurredAt",
                "integrationType",
                "integrationName",
                "priority",
                "responders",
                "visibleTo",
                "actions",
                "seen",
            ],
        ),
        "AlertCreate": obj(
            {
                "message": string(minLength=1, description="Required; over 130 is truncated."),
                "alias": string(512, description="The de-duplication key among open alerts."),
                "description": string(description="Over 15000 is truncated."),
                "entity": string(description="Over 512 is truncated."),
                "source": string(description="Default: the caller's IP address."),
                "user": string(),
                "note": string(),
                "priority": {**priority, "default": "P3"},
                "tags": {"type": "array", "items": string(), "description": "≤20, each ≤50."},
                "actions": {"type": "array", "items": string(), "description": "≤10, each ≤50."},
                "extraProperties": {
                    "type": "object",
                    "additionalProperties": extra_value,
                    "description": "≤8000 characters in total; `details` is an alias.",
                },
                "details": {"type": "object", "additionalProperties": extra_value},
                "responders": {"type": "array", "items": recipient_input(RESPONDER_TYPES)},
                "visibleTo": {"type": "array", "items": recipient_input(VISIBLE_TO_TYPES)},
            },
            required=["message"],
            closed=False,
            description=(
                "Over-long values are truncated and logged on the alert unless "
                "`strictValidation=true`; unknown fields are ignored."
            ),
        ),
        "ActionCommon": obj(common, closed=False),
        "AssignBody": obj(
            {**common, "accountId": string(255, minLength=1)}, required=["accountId"], closed=False
        ),
        "ResponderBody": obj(
            {
                **common,
                "id": string(255),
                "name": string(255),
                "username": string(255),
                "type": enum(RESPONDER_TYPES),
                "responder": recipient_input(RESPONDER_TYPES),
            },
            closed=False,
            description="`{id, type}` (JSM) or `{responder: {id, type}}` (Opsgenie).",
            examples=[{"id": "team-ops", "type": "team"}],
        ),
        "ExtraPropertiesBody": obj(
            {
                **common,
                "extraProperties": {
                    "type": "object",
                    "additionalProperties": extra_value,
                    "minProperties": 1,
                },
                "details": {"type": "object", "additionalProperties": extra_value},
            },
            closed=False,
            examples=[{"extraProperties": {"region": "eu-west-1", "retries": 3}}],
        ),
        "KeysBody": obj(
            {**common, "keys": {"type": "array", "items": string(128), "minItems": 1}},
            closed=False,
            description="The keys may instead be given as `?keys=a,b`.",
        ),
        "TagsBody": obj(
            {**common, "tags": {"type": "array", "items": string(50), "minItems": 1}},
            required=["tags"],
            closed=False,
            examples=[{"tags": ["database", "eu"]}],
        ),
        "TagsRemoveBody": obj(
            {**common, "tags": {"type": "array", "items": string(50), "minItems": 1}},
            closed=False,
            description="The tags may instead be given as `?tags=a,b`.",
        ),
        "EscalateBody": obj(
            {
                **common,
                "escalationId": string(255, minLength=1),
                "escalation": obj({"id": string(), "name": string()}, closed=False),
            },
            closed=False,
        ),
        "ExecuteActionBody": obj(
            {**common, "actionName": string(50, minLength=1)},
            required=["actionName"],
            closed=False,
        ),
        "SnoozeBody": obj(
            {**common, "endTime": {**TIME_INPUT, "description": "In the future."}},
            required=["endTime"],
            closed=False,
            examples=[{"endTime": "2099-01-01T00:00:00Z", "user": "ops"}],
        ),
        "NoteBody": obj({**common, "note": string(minLength=1)}, required=["note"], closed=False),
        "PriorityBody": obj({**common, "priority": priority}, required=["priority"], closed=False),
        "MessageBody": obj(
            {**common, "message": string(minLength=1)}, required=["message"], closed=False
        ),
        "DescriptionBody": obj(
            {**common, "description": string()}, required=["description"], closed=False
        ),
        "RequestStatus": obj(
            {
                "action": enum(a.value for a in AlertAction),
                "processedAt": nullable(TIMESTAMP),
                "integrationId": string(),
                "isSuccess": {"type": ["boolean", "null"]},
                "status": string(),
                "alertId": string(),
                "alias": string(),
            },
            required=[
                "action",
                "processedAt",
                "integrationId",
                "isSuccess",
                "status",
                "alertId",
                "alias",
            ],
        ),
        "AlertLog": obj(
            {
                "id": string(),
                "action": enum(e.value for e in AlertEvent),
                "log": string(),
                "owner": string(),
                "requestId": nullable(string()),
                "createdAt": TIMESTAMP,
            },
            required=["id", "action", "log", "owner", "requestId", "createdAt"],
        ),
        "AlertNote": obj(
            {
                "id": string(),
                "note": string(),
                "owner": string(),
                "createdAt": TIMESTAMP,
                "updatedAt": TIMESTAMP,
            },
            required=["id", "note", "owner", "createdAt", "updatedAt"],
        ),
    }


def _integration_schemas() -> dict[str, Schema]:
    flags = {
        name: {"type": "boolean"}
        for name in (
            "allowReadAccess",
            "allowWriteAccess",
            "allowDeleteAccess",
            "allowConfigurationAccess",
            "suppressNotifications",
        )
    }
    integration = {
        "id": string(),
        "name": string(),
        "type": string(),
        "enabled": {"type": "boolean"},
        "teamId": nullable(string()),
        "advanced": {"type": "boolean"},
        "maintenanceSources": {"type": "array"},
        "directions": {"type": "array", "items": enum(DIRECTIONS)},
        "domains": {"type": "array", "items": string()},
        "typeSpecificProperties": {
            "type": "object",
            "properties": flags,
            "required": list(flags),
            "description": "The access flags and any other properties given.",
        },
        "createdAt": TIMESTAMP,
        "updatedAt": TIMESTAMP,
    }
    integration_required = list(integration)
    integration_input = {
        "name": string(250, minLength=1, description="Unique in the workspace."),
        "type": string(50, description="`API` (default), `Email`, `Webhook`, …"),
        "enabled": {"type": "boolean"},
        "teamId": nullable(string(64)),
        "typeSpecificProperties": {"type": "object", "properties": flags},
        **flags,
    }
    condition = obj(
        {
            "field": string(),
            "operation": enum(o.value for o in Operation),
            "expectedValue": string(),
            "not": {"type": "boolean"},
            "key": string(),
            "order": {"type": "integer"},
            "systemCondition": {"type": "boolean"},
        },
        required=["field", "operation", "expectedValue", "not", "order", "systemCondition"],
    )
    condition_input = obj(
        {
            "field": string(minLength=1),
            "operation": enum(o.value for o in Operation),
            "expectedValue": string(),
            "not": {"type": "boolean"},
            "key": string(),
            "order": {"type": "integer"},
        },
        required=["field", "operation"],
        closed=False,
    )
    match_type = enum(m.value for m in MatchType)
    action_mapping = obj(
        {"type": string(50), "parameter": {"type": "object"}},
        required=["type"],
        closed=False,
        description=f"Outgoing actions: `type` is one of {', '.join(OUTGOING_TRIGGERS)}.",
    )
    action_input = {
        "type": enum(
            (*INCOMING_TYPES, *OUTGOING_TYPES),
            description="Incoming: ignore, create, close, acknowledge, addNote; outgoing: postToUrl.",
        ),
        "name": string(250, minLength=1),
        "domain": enum(["alert"]),
        "direction": enum(DIRECTIONS),
        "groupType": enum(GROUP_TYPES),
        "extraField": string(500),
        "enabled": {"type": "boolean", "default": True},
        "filter": ref("FilterInput"),
        "fieldMappings": {"type": "object", "description": "Alert fields as `{{…}}` templates."},
        "typeSpecificProperties": {
            "type": "object",
            "description": "postToUrl: `url` (required) and `headers`; create: keep…FromPayload flags.",
        },
        "actionMapping": action_mapping,
    }
    return {
        "Integration": obj(integration, required=integration_required),
        "IntegrationWithKey": obj(
            {**integration, "apiKey": string(description="Shown once; stored hashed.")},
            required=[*integration_required, "apiKey"],
        ),
        "IntegrationCreate": obj(integration_input, required=["name"], closed=False),
        "IntegrationUpdate": obj(integration_input, closed=False),
        "KeyRotation": obj({"id": string(), "apiKey": string()}, required=["id", "apiKey"]),
        "Filter": obj(
            {
                "conditionsEmpty": {"type": "boolean"},
                "conditionMatchType": match_type,
                "conditions": {"type": "array", "items": condition},
            },
            required=["conditionsEmpty", "conditionMatchType", "conditions"],
        ),
        "FilterInput": obj(
            {
                "conditionMatchType": match_type,
                "type": {**match_type, "description": "Alias of conditionMatchType."},
                "conditions": {"type": "array", "items": condition_input},
            },
            closed=False,
        ),
        "IntegrationAction": obj(
            {
                "id": string(),
                "type": string(),
                "name": string(),
                "domain": string(),
                "direction": enum(DIRECTIONS),
                "groupType": string(),
                "extraField": string(),
                "enabled": {"type": "boolean"},
                "filter": ref("Filter"),
                "typeSpecificProperties": {"type": "object"},
                "fieldMappings": {"type": "object"},
                "actionMapping": obj(
                    {"type": nullable(string()), "parameter": {"type": "object"}},
                    required=["type", "parameter"],
                ),
            },
            required=[
                "id",
                "type",
                "name",
                "domain",
                "direction",
                "groupType",
                "extraField",
                "enabled",
                "filter",
                "typeSpecificProperties",
                "fieldMappings",
            ],
        ),
        "IntegrationActionSummary": obj(
            {
                "id": string(),
                "name": string(),
                "type": string(),
                "direction": enum(DIRECTIONS),
                "domain": string(),
                "actionMappingType": nullable(string()),
                "groupType": string(),
                "enabled": {"type": "boolean"},
            },
            required=[
                "id",
                "name",
                "type",
                "direction",
                "domain",
                "actionMappingType",
                "groupType",
                "enabled",
            ],
        ),
        "IntegrationActionCreate": obj(
            action_input, required=["type", "name", "domain", "direction", "filter"], closed=False
        ),
        "IntegrationActionUpdate": obj(
            {
                k: action_input[k]
                for k in (
                    "name",
                    "enabled",
                    "filter",
                    "fieldMappings",
                    "typeSpecificProperties",
                    "actionMapping",
                )
            },
            closed=False,
        ),
        "ReorderBody": obj(
            {"successorId": nullable(string(64))},
            closed=False,
            description="The action that will come right after; null or absent: last.",
        ),
        "DryRunBody": {
            "description": "`{payload, headers}`, or the sample payload itself.",
            "type": "object",
            "properties": {"payload": {}, "headers": {"type": "object"}},
        },
        "DryRun": obj(
            {
                "integrationId": string(),
                "matched": {"type": "boolean"},
                "action": nullable(
                    obj(
                        {"id": string(), "name": string(), "type": string()},
                        required=["id", "name", "type"],
                    )
                ),
                "status": string(),
                "evaluated": {
                    "type": "array",
                    "items": obj(
                        {
                            "id": string(),
                            "name": string(),
                            "type": string(),
                            "skipped": nullable(string()),
                            "filter": nullable(
                                obj(
                                    {
                                        "matched": {"type": "boolean"},
                                        "conditionMatchType": match_type,
                                        "reason": string(),
                                        "conditions": {
                                            "type": "array",
                                            "items": {"type": "object"},
                                        },
                                    },
                                    required=[
                                        "matched",
                                        "conditionMatchType",
                                        "reason",
                                        "conditions",
                                    ],
                                )
                            ),
                        },
                        required=["id", "name", "type", "skipped", "filter"],
                    ),
                },
                "rendered": nullable(
                    {
                        "type": "object",
                        "properties": {
                            "templateErrors": {"type": "array", "items": string()},
                            "truncatedFields": {"type": "array", "items": string()},
                        },
                        "required": ["templateErrors", "truncatedFields"],
                    }
                ),
            },
            required=["integrationId", "matched", "action", "status", "evaluated", "rendered"],
        ),
    }


def _shared_schemas() -> dict[str, Schema]:
    return {
        "Error": {
            "type": "object",
            "required": ["title", "code"],
            "properties": {
                "title": string(description="What is wrong, for a person."),
                "code": string(description="A stable machine code, e.g. `validation_failed`."),
                "source": obj(
                    {
                        "pointer": string(description="JSON pointer into the body."),
                        "parameter": string(description="The query parameter."),
                        "position": {"type": "integer", "description": "In the query."},
                    },
                    closed=False,
                ),
                "fields": {"type": "object", "additionalProperties": string()},
            },
        },
        "ErrorBody": obj(
            {"errors": {"type": "array", "items": ref("Error"), "minItems": 1}},
            required=["errors"],
        ),
        "PageLinks": obj(
            {"next": string(description="The next page; absent on the last page.")},
        ),
        "Accepted": obj(
            {
                "result": enum(["Request will be processed"]),
                "requestId": string(description="Poll `GET /v1/alerts/requests/{requestId}`."),
                "took": {"type": "number", "minimum": 0},
            },
            required=["result", "requestId", "took"],
        ),
    }


# ---------------------------------------------------------------------------------------------
# Operations


def json_content(schema: Schema) -> dict[str, Any]:
    return {"content": {JSON: {"schema": schema}}}


def page_of(item: str) -> Schema:
    return obj(
        {
            "values": {"type": "array", "items": ref(item)},
            "count": {"type": "integer", "minimum": 0, "description": "All matches."},
            "links": ref("PageLinks"),
        },
        required=["values", "count", "links"],
    )


def param(name: str, where: str = "query", **schema: Any) -> Schema:
    description = schema.pop("description", None)
    required = schema.pop("required", where == "path")
    out: Schema = {"name": name, "in": where, "required": required, "schema": schema}
    if description:
        out["description"] = description
    return out


def param_ref(name: str) -> Schema:
    return {"$ref": f"#/components/parameters/{name}"}


def operation(
    operation_id: str,
    summary: str,
    tag: str,
    responses: Mapping[int, Any],
    *,
    errors: Iterable[int] = (),
    parameters: Iterable[Schema] = (),
    body: Schema | None = None,
    body_required: bool = True,
    description: str | None = None,
    authenticated: bool = True,
) -> Schema:
    """One operation; authenticated ones add 400 (NUL in the URL), 401, 403 and 429."""
    out: Schema = {"operationId": operation_id, "summary": summary, "tags": [tag]}
    if description:
        out["description"] = description
    if params := list(parameters):
        out["parameters"] = params
    codes = set(errors)
    if body is not None:
        out["requestBody"] = {"required": body_required, **json_content(body)}
        codes |= {400, 413, 422}
    if authenticated:
        codes |= {400, 401, 403, 429}
    else:
        out["security"] = []
    if any(p.get("in") == "path" for p in out.get("parameters", [])):
        codes.add(404)
    out["responses"] = {str(k): v for k, v in responses.items()}
    for code in sorted(codes):
        out["responses"][str(code)] = {"$ref": f"#/components/responses/{ERROR_STATUSES[code][0]}"}
    return out


def ok(schema: Schema, description: str = "OK") -> Schema:
    return {"description": description, **json_content(schema)}


ACCEPTED = {"$ref": "#/components/responses/Accepted"}
EMPTY_200 = {"description": "Done; no body."}
PAGE = [param_ref("offset"), param_ref("size")]


def _alert_paths() -> dict[str, Schema]:
    ident = [param("identifier", "path", **PATH_SEGMENT), param_ref("identifierType")]
    strict = param(
        "strictValidation",
        type="boolean",
        description="Reject over-long values with 422 instead of truncating them.",
    )

    def action(op_id: str, summary: str, body: str, *, required: bool = True) -> Schema:
        return operation(
            op_id,
            summary,
            "Alerts",
            {202: ACCEPTED},
            parameters=[*ident, strict],
            body=ref(body),
            body_required=required,
        )

    query_list = "Comma-separated, instead of the body."
    return {
        "/v1/alerts": {
            "get": operation(
                "listAlerts",
                "Search alerts",
                "Alerts",
                {200: ok(page_of("Alert"))},
                errors=[422],
                parameters=[
                    param("query", type="string", description="The query language (docs/api.md)."),
                    param(
                        "sort",
                        **enum(
                            [
                                "createdAt",
                                "insertedAt",
                                "updatedAt",
                                "lastOccurredAt",
                                "priority",
                                "count",
                                "status",
                                "tinyId",
                                "alias",
                                "message",
                                "snoozedUntil",
                            ],
                            default="createdAt",
                        ),
                    ),
                    param("order", **enum(["desc", "asc"], default="desc")),
                    param("from", type="string", description="createdAt ≥ (epoch ms or ISO)."),
                    param("to", type="string", description="createdAt < (epoch ms or ISO)."),
                    *PAGE,
                ],
                description="`offset + size` must be below 20000.",
            ),
            "post": operation(
                "createAlert",
                "Create an alert (asynchronous)",
                "Alerts",
                {202: ACCEPTED},
                parameters=[strict],
                body=ref("AlertCreate"),
            ),
        },
        "/v1/alerts/requests/{requestId}": {
            "get": operation(
                "getRequestStatus",
                "The outcome of an asynchronous write",
                "Alerts",
                {200: ok(ref("RequestStatus"))},
                parameters=[
                    param("requestId", "path", **PATH_SEGMENT),
                    param(
                        "includePending",
                        type="boolean",
                        description="Answer 200 while pending instead of 404.",
                    ),
                ],
            )
        },
        "/v1/alerts/alias": {
            "get": operation(
                "getAlertByAlias",
                "Get the alert with an alias",
                "Alerts",
                {200: ok(ref("Alert"))},
                errors=[404, 422],
                parameters=[param("alias", required=True, **string(512, minLength=1))],
            )
        },
        "/v1/alerts/{identifier}": {
            "get": operation(
                "getAlert",
                "Get an alert",
                "Alerts",
                {200: ok(ref("Alert"))},
                errors=[422],
                parameters=ident,
            ),
            "delete": action("deleteAlert", "Delete an alert", "ActionCommon", required=False),
        },
        "/v1/alerts/{identifier}/acknowledge": {
            "post": action("acknowledgeAlert", "Acknowledge", "ActionCommon", required=False)
        },
        "/v1/alerts/{identifier}/unacknowledge": {
            "post": action("unacknowledgeAlert", "Unacknowledge", "ActionCommon", required=False)
        },
        "/v1/alerts/{identifier}/close": {
            "post": action("closeAlert", "Close", "ActionCommon", required=False)
        },
        "/v1/alerts/{identifier}/assign": {
            "post": action("assignAlert", "Assign an owner", "AssignBody")
        },
        "/v1/alerts/{identifier}/responders": {
            "post": action("addResponder", "Add a responder", "ResponderBody")
        },
        "/v1/alerts/{identifier}/extra-properties": {
            "post": action("addExtraProperties", "Add extra properties", "ExtraPropertiesBody"),
            "delete": {
                **action(
                    "deleteExtraProperties", "Remove extra properties", "KeysBody", required=False
                ),
                "parameters": [
                    *ident,
                    strict,
                    param("keys", type="string", description=query_list),
                ],
            },
        },
        "/v1/alerts/{identifier}/tags": {
            "post": action("addTags", "Add tags", "TagsBody"),
            "delete": {
                **action("removeTags", "Remove tags", "TagsRemoveBody", required=False),
                "parameters": [
                    *ident,
                    strict,
                    param("tags", type="string", description=query_list),
                ],
            },
        },
        "/v1/alerts/{identifier}/escalate": {
            "post": action("escalateAlert", "Escalate", "EscalateBody")
        },
        "/v1/alerts/{identifier}/action": {
            "post": action(
                "executeAlertAction", "Run one of the alert's actions", "ExecuteActionBody"
            )
        },
        "/v1/alerts/{identifier}/snooze": {
            "post": action("snoozeAlert", "Snooze until endTime", "SnoozeBody")
        },
        "/v1/alerts/{identifier}/notes": {
            "get": operation(
                "listAlertNotes",
                "List notes (newest first)",
                "Alerts",
                {200: ok(page_of("AlertNote"))},
                errors=[422],
                parameters=[*ident, *PAGE],
            ),
            "post": action("addNote", "Add a note", "NoteBody"),
        },
        "/v1/alerts/{identifier}/notes/{noteId}": {
            "patch": {
                **action("updateNote", "Update a note", "NoteBody"),
                "parameters": [*ident, param("noteId", "path", **PATH_SEGMENT), strict],
            },
            "delete": {
                **action("deleteNote", "Delete a note", "ActionCommon", required=False),
                "parameters": [*ident, param("noteId", "path", **PATH_SEGMENT), strict],
            },
        },
        "/v1/alerts/{identifier}/priority": {
            "patch": action("updatePriority", "Change the priority", "PriorityBody")
        },
        "/v1/alerts/{identifier}/message": {
            "patch": action("updateMessage", "Change the message", "MessageBody")
        },
        "/v1/alerts/{identifier}/description": {
            "patch": action("updateDescription", "Change the description", "DescriptionBody")
        },
        "/v1/alerts/{identifier}/logs": {
            "get": operation(
                "listAlertLogs",
                "The alert's activity log",
                "Alerts",
                {200: ok(page_of("AlertLog"))},
                errors=[422],
                parameters=[*ident, param("order", **enum(["asc", "desc"], default="asc")), *PAGE],
            )
        },
    }


def _component_paths() -> dict[str, Schema]:
    component_id = param("componentId", "path", **PATH_SEGMENT)
    return {
        "/v1/components": {
            "get": operation(
                "listComponents",
                "List components",
                "Components",
                {200: ok(page_of("Component"))},
                errors=[422],
                parameters=[
                    param("name", type="string", description="Case-insensitive substring."),
                    *PAGE,
                ],
            ),
            "post": operation(
                "createComponent",
                "Create a component",
                "Components",
                {201: ok(ref("Component"), "Created")},
                errors=[409],
                body=ref("ComponentCreate"),
            ),
        },
        "/v1/components/{componentId}": {
            "get": operation(
                "getComponent",
                "Get a component",
                "Components",
                {200: ok(ref("Component"))},
                parameters=[component_id],
            ),
            "patch": operation(
                "updateComponent",
                "Update a component",
                "Components",
                {200: ok(ref("Component"))},
                errors=[409],
                parameters=[component_id],
                body=ref("ComponentUpdate"),
            ),
            "delete": operation(
                "deleteComponent",
                "Delete a component (not the fallback one: 409)",
                "Components",
                {204: {"description": "Deleted"}},
                errors=[409],
                parameters=[component_id],
            ),
        },
    }


def _integration_paths() -> dict[str, Schema]:
    iid = param("integrationId", "path", **PATH_SEGMENT)
    aid = param("actionId", "path", **PATH_SEGMENT)
    tag = "Integrations"
    return {
        "/v1/integrations": {
            "get": operation(
                "listIntegrations",
                "List integrations",
                tag,
                {200: ok(page_of("Integration"))},
                errors=[422],
                parameters=PAGE,
            ),
            "post": operation(
                "createIntegration",
                "Create an integration (its key is shown once)",
                tag,
                {201: ok(ref("IntegrationWithKey"), "Created")},
                errors=[409],
                body=ref("IntegrationCreate"),
            ),
        },
        "/v1/integrations/{integrationId}": {
            "get": operation(
                "getIntegration",
                "Get an integration",
                tag,
                {200: ok(ref("Integration"))},
                parameters=[iid],
            ),
            "patch": operation(
                "updateIntegration",
                "Update an integration",
                tag,
                {200: ok(ref("Integration"))},
                errors=[409],
                parameters=[iid],
                body=ref("IntegrationUpdate"),
            ),
            "delete": operation(
                "deleteIntegration",
                "Delete an integration and its actions",
                tag,
                {200: EMPTY_200},
                parameters=[iid],
            ),
        },
        "/v1/integrations/{integrationId}/rotate-api-key": {
            "post": operation(
                "rotateIntegrationKey",
                "Replace the integration's key (the old one stops at once)",
                tag,
                {200: ok(ref("KeyRotation"))},
                parameters=[iid],
            )
        },
        "/v1/integrations/{integrationId}/actions": {
            "get": operation(
                "listIntegrationActions",
                "List actions in evaluation order",
                tag,
                {200: ok(page_of("IntegrationActionSummary"))},
                errors=[422],
                parameters=[
                    iid,
                    param("type", type="string"),
                    param("direction", type="string"),
                    param("domain", type="string"),
                    param("name", type="string"),
                    *PAGE,
                ],
            ),
            "post": operation(
                "createIntegrationAction",
                "Create an action (200, as JSM)",
                tag,
                {200: ok(ref("IntegrationAction"))},
                parameters=[iid],
                body=ref("IntegrationActionCreate"),
            ),
        },
        "/v1/integrations/{integrationId}/actions/test": {
            "post": operation(
                "testIntegrationActions",
                "Dry run: which action a sample payload triggers, and why; writes nothing",
                tag,
                {200: ok(ref("DryRun"))},
                parameters=[iid],
                body=ref("DryRunBody"),
            )
        },
        "/v1/integrations/{integrationId}/actions/{actionId}": {
            "get": operation(
                "getIntegrationAction",
                "Get an action",
                tag,
                {200: ok(ref("IntegrationAction"))},
                parameters=[iid, aid],
            ),
            "patch": operation(
                "updateIntegrationAction",
                "Update an action",
                tag,
                {200: ok(ref("IntegrationAction"))},
                parameters=[iid, aid],
                body=ref("IntegrationActionUpdate"),
            ),
            "delete": operation(
                "deleteIntegrationAction",
                "Delete an action",
                tag,
                {200: EMPTY_200},
                parameters=[iid, aid],
            ),
        },
        "/v1/integrations/{integrationId}/actions/{actionId}/order": {
            "patch": operation(
                "reorderIntegrationAction",
                "Move an action before its new successor",
                tag,
                {200: EMPTY_200},
                parameters=[iid, aid],
                body=ref("ReorderBody"),
                body_required=False,
            )
        },
        "/v1/integrations/{integrationId}/events": {
            "post": {
                **operation(
                    "sendIntegrationEvent",
                    "Send any payload to the integration's incoming actions",
                    tag,
                    {202: ACCEPTED},
                    parameters=[iid],
                    body={},
                    description=(
                        "Needs the integration's own key. Any JSON value is accepted; "
                        "form-encoded bodies are read as fields (e-mail)."
                    ),
                ),
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {"schema": {}},
                        "application/x-www-form-urlencoded": {
                            "schema": {"type": "object", "additionalProperties": string()}
                        },
                    },
                },
            }
        },
    }


def _incident_schemas() -> dict[str, Schema]:
    priority = enum(["P1", "P2", "P3", "P4", "P5"])
    resolve = enum(p.value for p in ResolvePolicy)
    review_status = enum(s.value for s in ReviewStatus)
    id_list = {"type": "array", "items": string(64), "maxItems": 100}
    incident_alert = obj(
        {
            "id": string(),
            "alias": string(),
            "message": string(),
            "priority": priority,
            "status": string(),
            "acknowledged": {"type": "boolean"},
            "count": {"type": "integer", "minimum": 0},
            "createdAt": TIMESTAMP,
        },
        required=["id", "alias", "message", "priority", "status", "acknowledged", "count"],
    )
    incident_fields: dict[str, Schema] = {
        "id": string(),
        "summary": string(255),
        "description": nullable(string()),
        "status": enum(s.value for s in IncidentStatus),
        "severity": nullable(priority),
        "severityRaisedBy": nullable(string(description="The alert that raised the severity.")),
        "componentIds": {"type": "array", "items": string()},
        "issueKeys": {"type": "array", "items": string()},
        "resolvePolicy": resolve,
        "rule": nullable(string()),
        "createdBy": nullable(string()),
        "createdAt": TIMESTAMP,
        "updatedAt": TIMESTAMP,
        "resolvedAt": nullable(TIMESTAMP),
        "updateSequenceNumber": {"type": "integer"},
        "alerts": {"type": "array", "items": incident_alert},
    }
    rule_fields: dict[str, Schema] = {
        "name": string(255),
        "order": {"type": "integer", "minimum": 0},
        "enabled": {"type": "boolean"},
        "minPriority": nullable(priority),
        "countThreshold": nullable({"type": "integer", "minimum": 1}),
        "unacknowledgedForSeconds": nullable({"type": "integer", "minimum": 1}),
        "action": enum(a.value for a in RuleAction),
        "resolvePolicy": resolve,
    }
    mapping_type = enum(m.value for m in MappingType)
    return {
        "IncidentAlert": incident_alert,
        "Incident": obj(
            incident_fields,
            required=["id", "summary", "status", "componentIds", "createdAt", "updatedAt"],
        ),
        "IncidentCreate": obj(
            {
                "summary": string(255, minLength=1),
                "description": nullable(string(5000)),
                "severity": priority,
                "componentIds": id_list,
                "alertIds": id_list,
                "issueKeys": id_list,
                "resolvePolicy": resolve,
            },
            required=["summary"],
            closed=False,
        ),
        "IncidentUpdate": obj(
            {
                "summary": string(255, minLength=1),
                "description": nullable(string(5000)),
                "severity": priority,
                "componentIds": id_list,
                "alertIds": id_list,
                "issueKeys": id_list,
                "resolvePolicy": resolve,
            },
            closed=False,
        ),
        "IncidentAlertPage": obj(
            {
                "values": {"type": "array", "items": incident_alert},
                "count": {"type": "integer", "minimum": 0},
                "links": {"type": "object"},
            },
            required=["values", "count", "links"],
        ),
        "Review": obj(
            {
                "id": string(),
                "summary": string(255),
                "description": string(),
                "status": review_status,
                "incidentIds": {"type": "array", "items": string()},
                "createdBy": nullable(string()),
                "createdAt": TIMESTAMP,
                "updatedAt": TIMESTAMP,
                "updateSequenceNumber": {"type": "integer"},
            },
            required=["id", "summary", "status", "incidentIds", "createdAt", "updatedAt"],
        ),
        "ReviewCreate": obj(
            {
                "incidentIds": {**id_list, "minItems": 1},
                "summary": string(255),
                "description": string(5000),
                "status": review_status,
            },
            required=["incidentIds"],
            closed=False,
        ),
        "ReviewUpdate": obj(
            {
                "incidentIds": {**id_list, "minItems": 1},
                "summary": string(255),
                "description": string(5000),
                "status": review_status,
            },
            closed=False,
            description="Status only moves forward: in progress → outstanding actions → completed.",
        ),
        "IncidentRule": obj(
            {
                "id": string(),
                **rule_fields,
                "filter": ref("Filter"),
                "createdAt": TIMESTAMP,
                "updatedAt": TIMESTAMP,
            },
            required=["id", "name", "order", "enabled", "filter", "action", "resolvePolicy"],
        ),
        "IncidentRuleDefault": obj(
            {k: v for k, v in rule_fields.items() if k not in ("order", "enabled")},
            required=["name", "action", "resolvePolicy"],
        ),
        "IncidentRuleList": obj(
            {
                "values": {"type": "array", "items": ref("IncidentRule")},
                "count": {"type": "integer", "minimum": 0},
                "defaults": {
                    "type": "array",
                    "items": ref("IncidentRuleDefault"),
                    "description": "The rules a workspace runs on while it has none of its own.",
                },
                "links": {"type": "object"},
            },
            required=["values", "count", "defaults", "links"],
        ),
        "IncidentRuleCreate": obj(
            {**rule_fields, "filter": ref("FilterInput")},
            required=["name"],
            closed=False,
        ),
        "IncidentRuleUpdate": obj({**rule_fields, "filter": ref("FilterInput")}, closed=False),
        "ComponentMapping": obj(
            {
                "id": string(),
                "order": {"type": "integer", "minimum": 0},
                "type": mapping_type,
                "value": string(),
                "key": string(),
                "componentId": string(),
                "createdAt": TIMESTAMP,
            },
            required=["id", "order", "type", "value", "componentId", "createdAt"],
        ),
        "ComponentMappingList": obj(
            {
                "values": {"type": "array", "items": ref("ComponentMapping")},
                "count": {"type": "integer", "minimum": 0},
                "links": {"type": "object"},
            },
            required=["values", "count", "links"],
        ),
        "ComponentMappingCreate": obj(
            {
                "type": mapping_type,
                "value": string(1000),
                "key": string(255, description="Required for extraProperty."),
                "componentId": string(64),
                "order": {"type": "integer", "minimum": 0},
            },
            required=["type", "value", "componentId"],
            closed=False,
        ),
        "ComponentMappingUpdate": obj(
            {
                "type": mapping_type,
                "value": string(1000),
                "key": string(255),
                "componentId": string(64),
                "order": {"type": "integer", "minimum": 0},
            },
            closed=False,
        ),
    }


def _incident_paths() -> dict[str, Schema]:
    incident_id = param("incidentId", "path", **PATH_SEGMENT)
    review_id = param("reviewId", "path", **PATH_SEGMENT)
    rule_id = param("ruleId", "path", **PATH_SEGMENT)
    mapping_id = param("mappingId", "path", **PATH_SEGMENT)
    deleted = {204: {"description": "Deleted"}}
    return {
        "/v1/incidents": {
            "get": operation(
                "listIncidents",
                "List incidents",
                "Incidents",
                {200: ok(page_of("Incident"))},
                errors=[422],
                parameters=[param("status", **enum(["open", "resolved"])), *PAGE],
            ),
            "post": operation(
                "createIncident",
                "Open an incident by hand",
                "Incidents",
                {201: ok(ref("Incident"), "Created")},
                errors=[404],
                body=ref("IncidentCreate"),
            ),
        },
        "/v1/incidents/{incidentId}": {
            "get": operation(
                "getIncident",
                "Get an incident with its alerts",
                "Incidents",
                {200: ok(ref("Incident"))},
                parameters=[incident_id],
            ),
            "patch": operation(
                "updateIncident",
                "Update an incident",
                "Incidents",
                {200: ok(ref("Incident"))},
                errors=[409],
                parameters=[incident_id],
                body=ref("IncidentUpdate"),
            ),
        },
        "/v1/incidents/{incidentId}/resolve": {
            "post": operation(
                "resolveIncident",
                "Resolve an incident",
                "Incidents",
                {200: ok(ref("Incident"))},
                errors=[409],
                parameters=[incident_id],
            )
        },
        "/v1/incidents/{incidentId}/alerts": {
            "get": operation(
                "listIncidentAlerts",
                "The alerts of an incident",
                "Incidents",
                {200: ok(ref("IncidentAlertPage"))},
                parameters=[incident_id],
            )
        },
        "/v1/reviews": {
            "get": operation(
                "listReviews",
                "List post-incident reviews",
                "Reviews",
                {200: ok(page_of("Review"))},
                errors=[422],
                parameters=PAGE,
            ),
            "post": operation(
                "createReview",
                "Create a post-incident review for one or more incidents",
                "Reviews",
                {201: ok(ref("Review"), "Created")},
                errors=[404],
                body=ref("ReviewCreate"),
            ),
        },
        "/v1/reviews/{reviewId}": {
            "get": operation(
                "getReview",
                "Get a review",
                "Reviews",
                {200: ok(ref("Review"))},
                parameters=[review_id],
            ),
            "patch": operation(
                "updateReview",
                "Update a review",
                "Reviews",
                {200: ok(ref("Review"))},
                errors=[409],
                parameters=[review_id],
                body=ref("ReviewUpdate"),
            ),
        },
        "/v1/incident-rules": {
            "get": operation(
                "listIncidentRules",
                "List promotion rules (and the defaults)",
                "Incidents",
                {200: ok(ref("IncidentRuleList"))},
            ),
            "post": operation(
                "createIncidentRule",
                "Create a promotion rule",
                "Incidents",
                {201: ok(ref("IncidentRule"), "Created")},
                body=ref("IncidentRuleCreate"),
            ),
        },
        "/v1/incident-rules/{ruleId}": {
            "get": operation(
                "getIncidentRule",
                "Get a promotion rule",
                "Incidents",
                {200: ok(ref("IncidentRule"))},
                parameters=[rule_id],
            ),
            "patch": operation(
                "updateIncidentRule",
                "Update a promotion rule",
                "Incidents",
                {200: ok(ref("IncidentRule"))},
                parameters=[rule_id],
                body=ref("IncidentRuleUpdate"),
            ),
            "delete": operation(
                "deleteIncidentRule",
                "Delete a promotion rule",
                "Incidents",
                deleted,
                parameters=[rule_id],
            ),
        },
        "/v1/component-mappings": {
            "get": operation(
                "listComponentMappings",
                "List component-mapping rules, in order",
                "Incidents",
                {200: ok(ref("ComponentMappingList"))},
            ),
            "post": operation(
                "createComponentMapping",
                "Create a component-mapping rule",
                "Incidents",
                {201: ok(ref("ComponentMapping"), "Created")},
                errors=[404],
                body=ref("ComponentMappingCreate"),
            ),
        },
        "/v1/component-mappings/{mappingId}": {
            "patch": operation(
                "updateComponentMapping",
                "Update a component-mapping rule",
                "Incidents",
                {200: ok(ref("ComponentMapping"))},
                parameters=[mapping_id],
                body=ref("ComponentMappingUpdate"),
            ),
            "delete": operation(
                "deleteComponentMapping",
                "Delete a component-mapping rule",
                "Incidents",
                deleted,
                parameters=[mapping_id],
            ),
        },
    }


def _meta_paths() -> dict[str, Schema]:
    return {
        "/v1/openapi.json": {
            "get": operation(
                "getOpenApiDocument",
                "This document",
                "Meta",
                {200: ok({"type": "object", "required": ["openapi", "paths"]})},
                authenticated=False,
            )
        }
    }


def _responses() -> dict[str, Schema]:
    out: dict[str, Schema] = {}
    for code, (name, description) in ERROR_STATUSES.items():
        response: Schema = {"description": description, **json_content(ref("ErrorBody"))}
        if code == 401:
            response["headers"] = {"WWW-Authenticate": {"schema": string()}}
        if code == 429:
            response["headers"] = {
                "Retry-After": {"schema": {"type": "string", "pattern": "^[0-9]+$"}}
            }
        out[name] = response
    out["Accepted"] = {
        "description": (
            "Accepted: the request is stored durably and will be processed; poll its status."
        ),
        **json_content(ref("Accepted")),
    }
    return out


_DOCUMENT: Schema = {
    "openapi": "3.1.0",
    "info": {
        "title": "Operations provider API",
        "version": "1",
        "description": (
            "A JSM-operations-compatible API: components, alerts, integrations, incidents and "
            "post-incident reviews of one "
            "workspace. JSON in and out, camelCase fields, ISO 8601 UTC times. Lists are "
            '`{"values", "count", "links": {"next"}}` (`offset`, `size` ≤ 100); every error is '
            '`{"errors": [{"title", "code"}]}`; alert writes answer 202 and are processed '
            "asynchronously."
        ),
    },
    "security": [{"GenieKey": []}, {"BasicAuth": []}],
    "tags": [
        {"name": "Alerts"},
        {"name": "Components"},
        {"name": "Integrations"},
        {"name": "Incidents"},
        {"name": "Reviews"},
        {"name": "Meta"},
    ],
    "paths": {
        **_meta_paths(),
        **_component_paths(),
        **_alert_paths(),
        **_integration_paths(),
        **_incident_paths(),
    },
    "components": {
        "securitySchemes": {
            "GenieKey": {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "`Authorization: GenieKey <key>` with a workspace or integration key.",
            },
            "BasicAuth": {
                "type": "http",
                "scheme": "basic",
                "description": "HTTP Basic with any user name and the key as the password.",
            },
        },
        "parameters": {
            "offset": param("offset", type="integer", minimum=0, default=0),
            "size": param("size", type="integer", minimum=1, maximum=100, default=20),
            "identifierType": param(
                "identifierType",
                **enum(["id", "alias", "tiny"], default="id"),
                description="How `{identifier}` names the alert.",
            ),
        },
        "schemas": {
            **_shared_schemas(),
            **_component_schemas(),
            **_alert_schemas(),
            **_integration_schemas(),
            **_incident_schemas(),
        },
        "responses": _responses(),
    },
}


def build_document(base_url: str | None = None) -> Schema:
    """A fresh copy of the document; ``base_url`` becomes its one server."""
    document = copy.deepcopy(_DOCUMENT)
    if base_url:
        document["servers"] = [{"url": base_url.rstrip("/") or "/"}]
    return document
