"""Alert payloads on the wire: parse request bodies (limits, defaults, truncation) and render JSON.

Limits follow the JSM operations / Opsgenie field limits. Over-long strings and extra list items
are truncated (and the truncation is logged on the alert) so monitoring tools are never rejected;
``strict=True`` turns every such case into a 422 instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from typing import Any

from provider.errors import ValidationFailed
from provider.ops.alerts.models import Alert
from provider.ops.alerts.models import AlertLog
from provider.ops.alerts.models import AlertNote
from provider.ops.alerts.models import AlertRequest
from provider.ops.alerts.models import AlertStatus
from provider.ops.alerts.models import Priority
from provider.times import iso
from provider.times import utcnow
from provider.validation import Fields

MESSAGE_MAX = 130
ALIAS_MAX = 512
DESCRIPTION_MAX = 15000
ENTITY_MAX = 512
SOURCE_MAX = 100
USER_MAX = 100
NOTE_MAX = 25000
TAGS_MAX = 20
TAG_MAX = 50
ACTIONS_MAX = 10
ACTION_MAX = 50
EXTRA_PROPERTIES_MAX_CHARS = 8000
EXTRA_PROPERTY_KEY_MAX = 128
RECIPIENTS_MAX = 50
RESPONDER_TYPES = ("team", "user", "escalation", "schedule")
VISIBLE_TO_TYPES = ("team", "user")
ELLIPSIS = "…"


@dataclass
class Limiter:
    """Apply a limit: truncate and remember it, or (strict) record a field error."""

    fields: Fields
    strict: bool
    notes: list[str] = field(default_factory=list)

    def text(self, name: str, value: str | None, limit: int, *, ellipsis: bool = False) -> str:
        if value is None:
            return ""
        if len(value) <= limit:
            return value
        if self.strict:
            self.fields.error(name, f"must be at most {limit} characters")
            return value
        self.notes.append(f"{name} truncated from {len(value)} to {limit} characters")
        return value[: limit - 1] + ELLIPSIS if ellipsis else value[:limit]

    def items(self, name: str, values: list[Any], limit: int) -> list[Any]:
        if len(values) <= limit:
            return values
        if self.strict:
            self.fields.error(name, f"must have at most {limit} items")
            return values
        self.notes.append(
            f"{name}: {len(values) - limit} items beyond the limit of {limit} dropped"
        )
        return values[:limit]


def _string_list(f: Fields, lim: Limiter, name: str, max_items: int, max_len: int) -> list[str]:
    raw = f.raw.get(name)
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        f.error(name, "must be a list of strings")
        return []
    seen: dict[str, None] = {}
    for value in raw:
        value = lim.text(name, value.strip(), max_len)
        if value:
            seen.setdefault(value, None)
    return lim.items(name, list(seen), max_items)


def _recipients(f: Fields, lim: Limiter, name: str, types: tuple[str, ...]) -> list[dict[str, str]]:
    raw = f.raw.get(name)
    if raw is None:
        return []
    if not isinstance(raw, list):
        f.error(name, "must be a list of objects")
        return []
    out: list[dict[str, str]] = []
    for item in raw:
        if not isinstance(item, Mapping):
            f.error(name, "must be a list of objects")
            return []
        kind = item.get("type")
        if kind not in types:
            f.error(name, f"type must be one of: {', '.join(types)}")
            return []
        # JSM sends {id, type}; Opsgenie-style clients send a name or username instead.
        ident = item.get("id") or item.get("name") or item.get("username")
        if not isinstance(ident, str) or not ident.strip() or len(ident) > 255:
            f.error(name, "each entry needs an id (or name/username) of at most 255 characters")
            return []
        entry = {"id": ident.strip(), "type": kind}
        if entry not in out:
            out.append(entry)
    return lim.items(name, out, RECIPIENTS_MAX)


def parse_extra_properties(
    f: Fields, lim: Limiter, name: str, *, required: bool = False
) -> dict[str, Any]:
    raw = f.raw.get(name)
    if raw is None:
        if required:
            f.error(name, "is required")
        return {}
    if not isinstance(raw, Mapping):
        f.error(name, "must be an object")
        return {}
    out: dict[str, Any] = {}
    size = 0
    for key, value in raw.items():
        if not isinstance(key, str) or not key or len(key) > EXTRA_PROPERTY_KEY_MAX:
            f.error(name, f"keys must be 1 to {EXTRA_PROPERTY_KEY_MAX} characters")
            return {}
        if value is not None and not isinstance(value, str | int | float | bool):
            f.error(name, "values must be strings, numbers, booleans or null")
            return {}
        if isinstance(value, float) and value != value:  # NaN is not JSON
            f.error(name, "values must be finite numbers")
            return {}
        size += len(key) + len(json.dumps(value))
        if size > EXTRA_PROPERTIES_MAX_CHARS:
            if lim.strict:
                f.error(name, f"must be at most {EXTRA_PROPERTIES_MAX_CHARS} characters in total")
                return {}
            lim.notes.append(
                f"{name}: keys beyond {EXTRA_PROPERTIES_MAX_CHARS} characters in total dropped"
            )
            break
        out[key] = value
    return out


@dataclass(frozen=True, slots=True)
class AlertCreate:
    message: str
    alias: str | None
    description: str
    entity: str
    source: str
    user: str
    note: str
    priority: Priority
    tags: list[str]
    actions: list[str]
    extra_properties: dict[str, Any]
    responders: list[dict[str, str]]
    visible_to: list[dict[str, str]]
    truncations: list[str]

    @classmethod
    def from_json(
        cls, raw: object, *, strict: bool = False, default_source: str = ""
    ) -> AlertCreate:
        """Validate a create-alert body.

        :raises ValidationFailed: (422) naming the first bad field.
        :raises BadRequest: when the body is not a JSON object.
        """
        # Callers other than the HTTP edge (integration templates) may hand over NUL characters,
        # which PostgreSQL cannot store; drop them rather than fail the alert later.
        f = Fields(strip_nul(raw))
        lim = Limiter(f, strict)
        message = f.required_str("message")
        alias = f.optional_str("alias", max_len=ALIAS_MAX)
        extra_key = "extraProperties" if "extraProperties" in f.raw else "details"
        obj = cls(
            message=lim.text("message", message, MESSAGE_MAX, ellipsis=True),
            # An alias is the de-duplication key: cutting it would merge distinct alerts, so an
            # over-long alias is always an error.
            alias=alias or None,
            description=lim.text(
                "description",
                f.optional_str("description", strip=False),
                DESCRIPTION_MAX,
                ellipsis=True,
            ),
            entity=lim.text("entity", f.optional_str("entity"), ENTITY_MAX),
            source=lim.text("source", f.optional_str("source") or default_source, SOURCE_MAX),
            user=lim.text("user", f.optional_str("user"), USER_MAX),
            note=lim.text("note", f.optional_str("note", strip=False), NOTE_MAX),
            priority=f.enum("priority", Priority, default=Priority.P3) or Priority.P3,
            tags=_string_list(f, lim, "tags", TAGS_MAX, TAG_MAX),
            actions=_string_list(f, lim, "actions", ACTIONS_MAX, ACTION_MAX),
            extra_properties=parse_extra_properties(f, lim, extra_key),
            responders=_recipients(f, lim, "responders", RESPONDER_TYPES),
            visible_to=_recipients(f, lim, "visibleTo", VISIBLE_TO_TYPES),
            truncations=lim.notes,
        )
        f.raise_if_errors()
        return obj

    def to_payload(self) -> dict[str, Any]:
        payload = asdict(self)
        payload["priority"] = self.priority.value
        return payload

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> AlertCreate:
        data = dict(payload)
        data["priority"] = Priority(data.get("priority", "P3"))
        return cls(**data)


def strip_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, Mapping):
        return {strip_nul(k): strip_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strip_nul(v) for v in value]
    return value


def parse_time(value: object, name: str) -> datetime:
    """Accept ISO 8601 (a zone is required, ``Z`` allowed) or epoch milliseconds.

    :raises ValidationFailed:
    """
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            raise _bad_time(name) from None
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit() and len(text) <= 15:
            return parse_time(int(text), name)
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise _bad_time(name) from None
        if parsed.tzinfo is None:
            raise ValidationFailed(
                f"{name} must include a time zone (e.g. 2024-01-05T07:06:47Z)",
                details={"source": {"pointer": f"/{name}"}},
            )
        return parsed.astimezone(UTC)
    raise _bad_time(name)


def _bad_time(name: str) -> ValidationFailed:
    return ValidationFailed(
        f"{name} must be an ISO 8601 date-time or epoch milliseconds",
        details={"source": {"pointer": f"/{name}"}},
    )


def jsm_status(alert: Alert, now: datetime | None = None) -> str:
    """The JSM status derived from the stored state: closed > snoozed > acked > open."""
    if alert.status is AlertStatus.CLOSED:
        return "closed"
    if is_snoozed(alert, now):
        return "snoozed"
    if alert.acknowledged:
        return "acked"
    return "open"


def is_snoozed(alert: Alert, now: datetime | None = None) -> bool:
    # A snooze ends by itself at snoozedUntil; no job has to flip the flag back.
    return bool(
        alert.snoozed
        and alert.snoozed_until is not None
        and alert.snoozed_until > (now or utcnow())
    )


def alert_to_json(alert: Alert) -> dict[str, Any]:
    snoozed = is_snoozed(alert)
    return {
        "id": alert.public_id,
        "tinyId": str(alert.id),
        "createdAt": iso(alert.created_at),
        "updatedAt": iso(alert.updated_at),
        "message": alert.message,
        "entity": alert.entity,
        "source": alert.source,
        "status": jsm_status(alert),
        "alias": alert.alias,
        "tags": list(alert.tags or []),
        "extraProperties": dict(alert.extra_properties or {}),
        "description": alert.description,
        "acknowledged": alert.acknowledged,
        "count": alert.count,
        "owner": alert.owner,
        "snoozed": snoozed,
        "snoozedUntil": iso(alert.snoozed_until) if snoozed else None,
        "lastOccurredAt": iso(alert.last_occurred_at),
        "integrationType": alert.integration_type,
        "integrationName": alert.integration_name,
        "priority": alert.priority.value,
        "responders": list(alert.responders or []),
        "visibleTo": list(alert.visible_to or []),
        "actions": list(alert.actions or []),
        "seen": alert.seen,
    }


def request_status_to_json(req: AlertRequest) -> dict[str, Any]:
    return {
        "action": req.action.value,
        "processedAt": iso(req.processed_at),
        "integrationId": req.integration_id or "",
        "isSuccess": req.is_success,
        "status": req.status_message or "Request is waiting to be processed",
        "alertId": req.alert_public_id or "",
        "alias": req.alias or "",
    }


def log_to_json(log: AlertLog) -> dict[str, Any]:
    return {
        "id": str(log.id),
        "action": log.action.value,
        "log": log.message,
        "owner": log.actor,
        "requestId": log.request_id,
        "createdAt": iso(log.created_at),
    }


def note_to_json(note: AlertNote) -> dict[str, Any]:
    return {
        "id": note.public_id,
        "note": note.note,
        "owner": note.owner,
        "createdAt": iso(note.created_at),
        "updatedAt": iso(note.updated_at),
    }
