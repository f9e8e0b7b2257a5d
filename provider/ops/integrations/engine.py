"""Decide which incoming integration action a payload triggers, and render the alert it makes.

The vendor's rule: actions are evaluated by type, ignore > create > close > acknowledge > addNote,
within a type by their order; the first action whose filter matches wins and at most one action
runs per payload. Pure functions over plain data; the API and the ingestion endpoint call them.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from provider.ops.lang import fields
from provider.ops.lang import filters
from provider.ops.lang import templates
from provider.ops.lang.filters import Filter
from provider.ops.lang.filters import FilterExplanation
from provider.ops.lang.regex import Budget
from provider.ops.priority import PRIORITIES


class IncomingType(enum.StrEnum):
    IGNORE = "ignore"
    CREATE = "create"
    CLOSE = "close"
    ACKNOWLEDGE = "acknowledge"
    ADD_NOTE = "addNote"


EVALUATION_ORDER = (
    IncomingType.IGNORE,
    IncomingType.CREATE,
    IncomingType.CLOSE,
    IncomingType.ACKNOWLEDGE,
    IncomingType.ADD_NOTE,
)

#: Defaults of ``typeSpecificProperties`` when a flag is absent (the JSM example's values).
KEEP_FLAG_DEFAULTS = {
    "keepRespondersFromPayload": False,
    "appendAttachments": True,
    "keepTagsFromPayload": True,
    "keepActionsFromPayload": True,
    "keepExtraPropertiesFromPayload": True,
}

#: What a field renders to when an action's fieldMappings do not mention it: the payload's own
#: field of the same name, so an Alert-API-shaped payload works with an empty mapping.
DEFAULT_MAPPINGS = {
    "message": "{{message}}",
    "alias": "{{alias}}",
    "description": "{{description}}",
    "source": "{{source}}",
    "entity": "{{entity}}",
    "user": "{{user}}",
    "note": "{{note}}",
    "priority": "{{priority}}",
}

# Field limits of the alert API (reference §1.3); rendered values are cut to fit, never rejected.
LIMITS = {
    "message": 130,
    "alias": 512,
    "description": 15000,
    "entity": 512,
    "source": 100,
    "user": 100,
    "note": 25000,
}
MAX_TAGS, MAX_TAG_LENGTH = 20, 50
MAX_ACTIONS, MAX_ACTION_LENGTH = 10, 50
MAX_RESPONDERS = 50
MAX_DETAILS_CHARS = 8000
DEFAULT_PRIORITY = "P3"
RESPONDER_TYPES = ("team", "user", "escalation", "schedule")


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """What the engine needs of an integration action."""

    id: str
    name: str
    type: str
    order: float
    filter: Filter
    field_mappings: Mapping[str, Any] = field(default_factory=dict)
    type_specific_properties: Mapping[str, Any] = field(default_factory=dict)
    enabled: bool = True


@dataclass(slots=True)
class Rendered:
    fields: dict[str, Any]
    errors: list[str] = field(default_factory=list)
    truncated: list[str] = field(default_factory=list)
    #: the request's pattern budget, which every template of the action shares
    patterns: Budget = field(default_factory=Budget)

    def to_json(self) -> dict[str, Any]:
        return {**self.fields, "templateErrors": self.errors, "truncatedFields": self.truncated}


@dataclass(slots=True)
class Decision:
    action: ActionSpec | None
    rendered: Rendered | None
    trace: list[tuple[ActionSpec, FilterExplanation | None, str]] = field(default_factory=list)

    @property
    def action_type(self) -> str | None:
        return self.action.type if self.action else None

    @property
    def status(self) -> str:
        if self.action is None:
            return "No matching action; ignored"
        if self.action.type == IncomingType.IGNORE:
            return f"Ignored by action '{self.action.name}'"
        return f"Matched action '{self.action.name}'"

    def to_json(self) -> dict[str, Any]:
        return {
            "matched": self.action is not None,
            "action": None
            if self.action is None
            else {"id": self.action.id, "name": self.action.name, "type": self.action.type},
            "status": self.status,
            "evaluated": [
                {
                    "id": spec.id,
                    "name": spec.name,
                    "type": spec.type,
                    "skipped": why if explanation is None else None,
                    "filter": None if explanation is None else explanation.to_json(),
                }
                for spec, explanation, why in self.trace
            ],
            "rendered": None if self.rendered is None else self.rendered.to_json(),
        }


def ordered(actions: Iterable[ActionSpec]) -> list[ActionSpec]:
    """Incoming actions in evaluation order; other types (outgoing ones) are left out."""
    rank = {t.value: i for i, t in enumerate(EVALUATION_ORDER)}
    incoming = [a for a in actions if a.type in rank]
    return sorted(incoming, key=lambda a: (rank[a.type], a.order, a.id))


def decide(
    actions: Iterable[ActionSpec], payload: Mapping[str, Any], budget: Budget | None = None
) -> Decision:
    """Pick the first matching enabled action and render its fields.

    ``budget``: what this event may spend on tenant patterns, every filter and template
    together (a fresh one when not given), so that no configuration makes one request costly.
    """
    budget = budget if budget is not None else Budget()
    trace: list[tuple[ActionSpec, FilterExplanation | None, str]] = []
    for spec in ordered(actions):
        if not spec.enabled:
            trace.append((spec, None, "disabled"))
            continue
        explanation = filters.explain(spec.filter, payload, budget)
        trace.append((spec, explanation, ""))
        if explanation.matched:
            rendered = (
                None if spec.type == IncomingType.IGNORE else render_fields(spec, payload, budget)
            )
            return Decision(spec, rendered, trace)
    return Decision(None, None, trace)


def keep_flag(spec: ActionSpec, name: str) -> bool:
    value = spec.type_specific_properties.get(name)
    return KEEP_FLAG_DEFAULTS[name] if not isinstance(value, bool) else value


def render_fields(
    spec: ActionSpec, payload: Mapping[str, Any], budget: Budget | None = None
) -> Rendered:
    """Render an action's field mappings against a payload into alert fields.

    ``keep…FromPayload`` flags: when set, the payload's own tags / actions / extra properties /
    responders are kept and the mapped ones added (payload first, duplicates removed); when not,
    only the mapped ones are used.
    """
    mappings = spec.field_mappings
    out = Rendered(fields={}, patterns=budget if budget is not None else Budget())

    def text(name: str) -> str:
        template = mappings.get(name, DEFAULT_MAPPINGS.get(name, ""))
        if template is None:
            template = ""
        result = templates.render(
            template if isinstance(template, str) else str(template), payload, out.patterns
        )
        out.errors.extend(f"{name}: {e}" for e in result.errors)
        return result.text.strip()

    for name in ("message", "alias", "description", "source", "entity", "user", "note"):
        value = text(name)
        limit = LIMITS[name]
        if len(value) > limit:
            out.truncated.append(name)
            value = (
                value[: limit - 1] + "…" if name in ("message", "description") else value[:limit]
            )
        out.fields[name] = value

    priority = text("priority").upper()
    if priority not in PRIORITIES:
        if priority:
            out.errors.append(
                f"priority: {priority!r} is not one of P1..P5; used {DEFAULT_PRIORITY}"
            )
        priority = DEFAULT_PRIORITY
    out.fields["priority"] = priority
    if spec.type == IncomingType.CREATE and not out.fields["message"]:
        # An alert needs a message; a visible placeholder beats dropping the alert.
        out.errors.append("message: rendered empty")
        out.fields["message"] = "[no message: the message template rendered empty]"

    for name, keep, limit, item_limit in (
        ("tags", "keepTagsFromPayload", MAX_TAGS, MAX_TAG_LENGTH),
        ("actions", "keepActionsFromPayload", MAX_ACTIONS, MAX_ACTION_LENGTH),
    ):
        own = _payload_list(payload, name) if keep_flag(spec, keep) else []
        mapped = _render_list(mappings.get(name), payload, out, name)
        out.fields[name] = _merge_lists(own, mapped, limit, item_limit, out, name)
    details: dict[str, str] = {}
    if keep_flag(spec, "keepExtraPropertiesFromPayload"):
        for key in ("details", "extraProperties"):
            given = payload.get(key)
            if isinstance(given, Mapping):
                details.update({str(k): fields.as_text(v) for k, v in given.items()})
    mapped_details = mappings.get("details", mappings.get("extraProperties"))
    if isinstance(mapped_details, Mapping):
        for key, template in mapped_details.items():
            result = templates.render(
                template if isinstance(template, str) else str(template), payload, out.patterns
            )
            out.errors.extend(f"details.{key}: {e}" for e in result.errors)
            details[str(key)] = result.text
    size = 0
    kept: dict[str, str] = {}
    for key, value in details.items():
        size += len(key) + len(value)
        if size > MAX_DETAILS_CHARS:
            out.truncated.append("details")
            break
        kept[key] = value
    out.fields["details"] = kept

    responders: list[dict[str, str]] = []
    if keep_flag(spec, "keepRespondersFromPayload"):
        responders.extend(_responders(payload.get("responders")))
    responders.extend(_responders(mappings.get("responders"), payload, out.patterns))
    unique: list[dict[str, str]] = []
    for r in responders:
        if r not in unique:
            unique.append(r)
    if len(unique) > MAX_RESPONDERS:
        out.truncated.append("responders")
    out.fields["responders"] = unique[:MAX_RESPONDERS]
    return out


def _payload_list(payload: Mapping[str, Any], name: str) -> list[str]:
    value = payload.get(name)
    if isinstance(value, str):
        return [p.strip() for p in value.split(",") if p.strip()]
    if isinstance(value, list):
        return [fields.as_text(v).strip() for v in value if fields.as_text(v).strip()]
    return []


def _render_list(raw: Any, payload: Mapping[str, Any], out: Rendered, name: str) -> list[str]:
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    values: list[str] = []
    for item in items:
        if not isinstance(item, str):
            item = fields.as_text(item)
        whole = templates.resolve_single(item, payload)
        if isinstance(whole, list):
            values.extend(fields.as_text(v).strip() for v in whole)
            continue
        result = templates.render(item, payload, out.patterns)
        out.errors.extend(f"{name}: {e}" for e in result.errors)
        # A template may produce several comma-separated entries ("{{labels}}" → "a,b").
        values.extend(p.strip() for p in result.text.split(","))
    return [v for v in values if v]


def _merge_lists(
    first: list[str], second: list[str], limit: int, item_limit: int, out: Rendered, name: str
) -> list[str]:
    merged: list[str] = []
    for value in [*first, *second]:
        if len(value) > item_limit:
            value = value[:item_limit]
            if name not in out.truncated:
                out.truncated.append(name)
        if value not in merged:
            merged.append(value)
    if len(merged) > limit:
        if name not in out.truncated:
            out.truncated.append(name)
        merged = merged[:limit]
    return merged


def _responders(
    raw: Any, payload: Mapping[str, Any] | None = None, patterns: Budget | None = None
) -> list[dict[str, str]]:
    if not isinstance(raw, list):
        return []
    out: list[dict[str, str]] = []
    for item in raw:
        if not isinstance(item, Mapping):
            continue
        kind = item.get("type")
        ident = item.get("id") or item.get("name") or item.get("username")
        if kind not in RESPONDER_TYPES or not isinstance(ident, str) or not ident:
            continue
        if payload is not None and "{{" in ident:
            ident = templates.render(ident, payload, patterns).text.strip()
            if not ident:
                continue
        out.append({"type": kind, "id": ident})
    return out
