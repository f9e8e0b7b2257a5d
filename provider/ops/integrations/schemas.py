"""Wire format of integrations and integration actions: parse request bodies, render responses."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from provider import netguard
from provider.errors import ValidationFailed
from provider.ops.integrations.engine import KEEP_FLAG_DEFAULTS
from provider.ops.integrations.engine import PRIORITIES
from provider.ops.integrations.engine import RESPONDER_TYPES
from provider.ops.integrations.engine import IncomingType
from provider.ops.integrations.models import Integration
from provider.ops.integrations.models import IntegrationAction
from provider.ops.lang import filters
from provider.ops.lang import templates
from provider.times import iso
from provider.validation import Fields

NAME_MAX = 250
INCOMING_TYPES = tuple(t.value for t in IncomingType)
OUTGOING_TYPES = ("postToUrl",)
DIRECTIONS = ("incoming", "outgoing")
GROUP_TYPES = ("forwarding", "updating", "checkbox")
#: Alert actions an outgoing action can be mapped to (``actionMapping.type``).
OUTGOING_TRIGGERS = (
    "create",
    "acknowledge",
    "unacknowledge",
    "close",
    "delete",
    "addNote",
    "addTags",
    "removeTags",
    "addResponder",
    "assignOwnership",
    "escalate",
    "snooze",
    "updatePriority",
    "updateMessage",
    "updateDescription",
    "addExtraProperties",
)
ACCESS_FLAGS = {
    "allowReadAccess": "allow_read_access",
    "allowWriteAccess": "allow_write_access",
    "allowDeleteAccess": "allow_delete_access",
    "allowConfigurationAccess": "allow_configuration_access",
    "suppressNotifications": "suppress_notifications",
}
MAX_PROPERTIES_CHARS = 20_000
MAX_HEADERS = 20


def _fail(pointer: str, title: str) -> Any:
    raise ValidationFailed(title, details={"source": {"pointer": pointer}})


# ---------------------------------------------------------------------------------------------
# Integrations


@dataclass(frozen=True, slots=True)
class IntegrationInput:
    name: str | None
    type: str | None
    enabled: bool | None
    team_id: str | None
    flags: dict[str, bool]
    properties: dict[str, Any] | None

    @classmethod
    def from_json(cls, raw: object, *, partial: bool) -> IntegrationInput:
        """:raises ValidationFailed: naming the first bad field."""
        f = Fields(raw)
        name = (
            f.optional_str("name", max_len=NAME_MAX)
            if partial
            else f.required_str("name", max_len=NAME_MAX)
        )
        kind = f.optional_str("type", max_len=50)
        if not partial and not kind:
            kind = "API"
        enabled = f.optional_bool("enabled")
        team_id = f.optional_str("teamId", max_len=64)
        f.raise_if_errors()
        tsp = f.raw.get("typeSpecificProperties")
        if tsp is not None and not isinstance(tsp, Mapping):
            _fail("/typeSpecificProperties", "typeSpecificProperties must be an object")
        tsp = dict(tsp or {})
        flags: dict[str, bool] = {}
        # Opsgenie clients send the flags at the top level, JSM ones inside typeSpecificProperties.
        for wire in ACCESS_FLAGS:
            for source, pointer in ((tsp, f"/typeSpecificProperties/{wire}"), (f.raw, f"/{wire}")):
                if wire in source and source[wire] is not None:
                    if not isinstance(source[wire], bool):
                        _fail(pointer, f"{wire} must be true or false")
                    flags[wire] = source[wire]
            tsp.pop(wire, None)
        if len(str(tsp)) > MAX_PROPERTIES_CHARS:
            _fail("/typeSpecificProperties", "typeSpecificProperties is too large")
        properties = tsp if ("typeSpecificProperties" in f.raw or not partial) else None
        return cls(name, kind, enabled, team_id, flags, properties)


def integration_to_json(
    integration: Integration, *, directions: list[str] | None = None
) -> dict[str, Any]:
    tsp = dict(integration.properties or {})
    for wire, attr in ACCESS_FLAGS.items():
        tsp[wire] = bool(getattr(integration, attr))
    return {
        "id": integration.public_id,
        "name": integration.name,
        "type": integration.type,
        "enabled": integration.enabled,
        "teamId": integration.team_id,
        "advanced": False,
        "maintenanceSources": [],
        "directions": directions if directions is not None else ["incoming", "outgoing"],
        "domains": ["alert"],
        "typeSpecificProperties": tsp,
        "createdAt": iso(integration.created_at),
        "updatedAt": iso(integration.updated_at),
    }


# ---------------------------------------------------------------------------------------------
# Integration actions


@dataclass(frozen=True, slots=True)
class ActionInput:
    """A validated create or update body; ``None`` means "not given" (updates leave it)."""

    type: str | None = None
    name: str | None = None
    domain: str | None = None
    direction: str | None = None
    group_type: str | None = None
    extra_field: str | None = None
    enabled: bool | None = None
    filter: dict[str, Any] | None = None
    field_mappings: dict[str, Any] | None = None
    type_specific_properties: dict[str, Any] | None = None
    action_mapping: dict[str, Any] | None = None

    @classmethod
    def for_create(cls, raw: object, *, url_check: Callable[[str], None]) -> ActionInput:
        """:raises ValidationFailed: naming the first bad field, with a useful title."""
        f = Fields(raw)
        kind = f.required_str("type", max_len=50)
        name = f.required_str("name", max_len=NAME_MAX)
        domain = f.required_str("domain", max_len=20)
        direction = f.required_str("direction", max_len=20)
        group_type = f.optional_str("groupType", max_len=20) or ""
        extra_field = f.optional_str("extraField", max_len=500) or ""
        enabled = f.optional_bool("enabled", default=True)
        f.raise_if_errors()
        if domain != "alert":
            _fail("/domain", "domain must be alert")
        if direction not in DIRECTIONS:
            _fail("/direction", "direction must be one of: incoming, outgoing")
        if direction == "incoming" and kind not in INCOMING_TYPES:
            _fail("/type", f"type must be one of {', '.join(INCOMING_TYPES)} for incoming actions")
        if direction == "outgoing":
            if kind not in OUTGOING_TYPES:
                _fail(
                    "/type", f"type must be one of {', '.join(OUTGOING_TYPES)} for outgoing actions"
                )
            group_type = group_type or "forwarding"
        if group_type and group_type not in GROUP_TYPES:
            _fail("/groupType", f"groupType must be one of: {', '.join(GROUP_TYPES)}")
        if "filter" not in f.raw:
            _fail("/filter", "filter is required")
        return cls(
            type=kind,
            name=name,
            domain=domain,
            direction=direction,
            group_type=group_type,
            extra_field=extra_field,
            enabled=enabled,
            filter=filters.parse_filter(f.raw.get("filter")).to_json(),
            field_mappings=parse_field_mappings(f.raw.get("fieldMappings"), direction),
            type_specific_properties=parse_type_specific(
                f.raw.get("typeSpecificProperties"), kind, url_check
            ),
            action_mapping=parse_action_mapping(f.raw.get("actionMapping"), direction),
        )

    @classmethod
    def for_update(
        cls, raw: object, action: IntegrationAction, *, url_check: Callable[[str], None]
    ) -> ActionInput:
        f = Fields(raw)
        name = f.optional_str("name", max_len=NAME_MAX)
        enabled = f.optional_bool("enabled")
        f.raise_if_errors()
        if "name" in f.raw and not name:
            _fail("/name", "name must not be empty")
        flt = None
        if f.raw.get("filter") is not None:
            flt = filters.parse_filter(f.raw["filter"]).to_json()
            _keep_system_conditions(action.filter, flt)
        return cls(
            name=name,
            enabled=enabled,
            filter=flt,
            field_mappings=None
            if f.raw.get("fieldMappings") is None
            else parse_field_mappings(f.raw["fieldMappings"], action.direction),
            type_specific_properties=None
            if f.raw.get("typeSpecificProperties") is None
            else parse_type_specific(f.raw["typeSpecificProperties"], action.type, url_check),
            action_mapping=None
            if f.raw.get("actionMapping") is None
            else parse_action_mapping(f.raw["actionMapping"], action.direction),
        )


def _keep_system_conditions(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """A PATCH may not drop system conditions (they keep default actions working)."""
    for cond in old.get("conditions") or []:
        if not cond.get("systemCondition"):
            continue
        if not any(
            c.get("field") == cond.get("field") and c.get("operation") == cond.get("operation")
            for c in new.get("conditions") or []
        ):
            _fail(
                "/filter/conditions", f"system condition on {cond.get('field')} cannot be removed"
            )


_TEXT_MAPPINGS = ("message", "alias", "description", "source", "entity", "user", "note", "priority")


def parse_field_mappings(raw: object, direction: str | None) -> dict[str, Any]:
    """Check types and templates of ``fieldMappings``; unknown keys are kept as given."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        _fail("/fieldMappings", "fieldMappings must be an object")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        pointer = f"/fieldMappings/{key}"
        if key in _TEXT_MAPPINGS:
            if value is None:
                value = ""
            if not isinstance(value, str):
                _fail(pointer, f"fieldMappings.{key} must be a string")
            _check_template(pointer, f"fieldMappings.{key}", value)
            if (
                key == "priority"
                and "{{" not in value
                and value
                and value.upper() not in PRIORITIES
            ):
                _fail(pointer, "fieldMappings.priority must be P1..P5 or a template")
        elif key in ("tags", "actions"):
            if value is None:
                value = []
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                _fail(pointer, f"fieldMappings.{key} must be a list of strings")
            for i, item in enumerate(value):
                _check_template(f"{pointer}/{i}", f"fieldMappings.{key}[{i}]", item)
        elif key in ("details", "extraProperties"):
            if value is None:
                value = {}
            if not isinstance(value, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                _fail(pointer, f"fieldMappings.{key} must be an object of strings")
            for k, v in value.items():
                _check_template(f"{pointer}/{k}", f"fieldMappings.{key}.{k}", v)
        elif key == "responders":
            if value is None:
                value = []
            if not isinstance(value, list):
                _fail(pointer, "fieldMappings.responders must be a list")
            for i, item in enumerate(value):
                if (
                    not isinstance(item, Mapping)
                    or item.get("type") not in RESPONDER_TYPES
                    or not isinstance(item.get("id") or item.get("name"), str)
                ):
                    _fail(
                        f"{pointer}/{i}",
                        f"fieldMappings.responders[{i}] must be {{type: team|user|escalation|schedule, id}}",
                    )
        out[str(key)] = value
    if len(str(out)) > MAX_PROPERTIES_CHARS:
        _fail("/fieldMappings", "fieldMappings is too large")
    return out


def _check_template(pointer: str, label: str, template: str) -> None:
    problems = templates.check_template(template)
    if problems:
        _fail(pointer, f"{label}: {problems[0]}")


def parse_type_specific(raw: object, kind: str, url_check: Callable[[str], None]) -> dict[str, Any]:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        _fail("/typeSpecificProperties", "typeSpecificProperties must be an object")
    out = dict(raw)
    for key, value in out.items():
        if key.startswith("keep") and key.endswith("FromPayload") and not isinstance(value, bool):
            _fail(
                f"/typeSpecificProperties/{key}",
                f"typeSpecificProperties.{key} must be true or false",
            )
    if kind == "postToUrl":
        url = out.get("url")
        if not isinstance(url, str) or not url.strip():
            _fail(
                "/typeSpecificProperties/url",
                "typeSpecificProperties.url is required for postToUrl",
            )
        try:
            url_check(url.strip())
        except netguard.UnsafeDestination as e:
            _fail("/typeSpecificProperties/url", f"typeSpecificProperties.url is not allowed: {e}")
        out["url"] = url.strip()
        headers = out.get("headers", {})
        if headers is None:
            headers = {}
        if (
            not isinstance(headers, Mapping)
            or len(headers) > MAX_HEADERS
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())
        ):
            _fail(
                "/typeSpecificProperties/headers",
                f"typeSpecificProperties.headers must be an object of at most {MAX_HEADERS} strings",
            )
        if any("\n" in k + v or "\r" in k + v for k, v in headers.items()):
            _fail(
                "/typeSpecificProperties/headers",
                "typeSpecificProperties.headers must be one line each",
            )
        out["headers"] = dict(headers)
    if len(str(out)) > MAX_PROPERTIES_CHARS:
        _fail("/typeSpecificProperties", "typeSpecificProperties is too large")
    return out


def parse_action_mapping(raw: object, direction: str | None) -> dict[str, Any] | None:
    if raw is None:
        if direction == "outgoing":
            _fail("/actionMapping", "actionMapping is required for outgoing actions")
        return None
    if not isinstance(raw, Mapping):
        _fail("/actionMapping", "actionMapping must be an object")
    kind = raw.get("type")
    parameter = raw.get("parameter") or {}
    if not isinstance(parameter, Mapping):
        _fail("/actionMapping/parameter", "actionMapping.parameter must be an object")
    if direction == "outgoing" and kind not in OUTGOING_TRIGGERS:
        _fail(
            "/actionMapping/type",
            f"actionMapping.type must be one of: {', '.join(OUTGOING_TRIGGERS)}",
        )
    if not isinstance(kind, str) or len(kind) > 50:
        _fail("/actionMapping/type", "actionMapping.type must be a string")
    return {"type": kind, "parameter": dict(parameter)}


def action_to_json(action: IntegrationAction) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": action.public_id,
        "type": action.type,
        "name": action.name,
        "domain": action.domain,
        "direction": action.direction,
        "groupType": action.group_type,
        "extraField": action.extra_field,
        "enabled": action.enabled,
        "filter": action.filter or filters.MATCH_ALL.to_json(),
        "typeSpecificProperties": _with_keep_defaults(action),
        "fieldMappings": action.field_mappings or {},
    }
    if action.action_mapping is not None:
        out["actionMapping"] = action.action_mapping
    return out


def _with_keep_defaults(action: IntegrationAction) -> dict[str, Any]:
    tsp = dict(action.type_specific_properties or {})
    if action.direction == "incoming" and action.type == IncomingType.CREATE:
        for key, default in KEEP_FLAG_DEFAULTS.items():
            tsp.setdefault(key, default)
    return tsp


def action_summary_json(action: IntegrationAction) -> dict[str, Any]:
    """The list item shape (``ActionDetail``)."""
    return {
        "id": action.public_id,
        "name": action.name,
        "type": action.type,
        "direction": action.direction,
        "domain": action.domain,
        "actionMappingType": (action.action_mapping or {}).get("type"),
        "groupType": action.group_type,
        "enabled": action.enabled,
    }
