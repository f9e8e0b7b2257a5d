"""The ``/v1`` bodies of incidents, reviews, promotion rules and component mappings.

In every request body here ``null`` is as good as absent: an update leaves the field as it is, a
create takes the default. The exceptions are a promotion rule's ``filter`` and thresholds, where
``null`` clears the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated
from typing import Any

from pydantic import AfterValidator
from pydantic import BeforeValidator
from pydantic import Field
from pydantic import Strict
from pydantic import WithJsonSchema
from pydantic import model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.errors import ValidationFailed
from provider.ops.alerts.models import Alert
from provider.ops.components.models import Component
from provider.ops.incidents import models
from provider.ops.incidents import publishing
from provider.ops.incidents.facts import PRIORITIES
from provider.ops.incidents.mapping import MatchType
from provider.ops.incidents.mapping import validate_pattern
from provider.ops.incidents.models import ComponentMapping
from provider.ops.incidents.models import IncidentRule
from provider.ops.incidents.models import IncidentStatus
from provider.ops.incidents.models import ReviewStatus
from provider.ops.incidents.rules import ResolvePolicy
from provider.ops.incidents.rules import RuleAction
from provider.ops.lang import filters
from provider.schema.fields import Items
from provider.schema.fields import RequestModel
from provider.schema.fields import ResponseModel
from provider.schema.fields import Text
from provider.schema.fields import Timestamp
from provider.schema.fields import predicate
from provider.schema.fields import problem
from provider.schema.pages import PageLinks
from provider.schema.pages import PageQuery
from provider.times import iso
from provider.validation import Fields

MAX_IDS = 100
MAX_ID = 64
MAX_ISSUE_KEY = 255
MAX_UNACKNOWLEDGED_SECONDS = 7 * 24 * 3600


def _required(value: Any) -> Any:
    if value is None:
        raise problem("is required")
    return value


def _strings(value: Any) -> Any:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise problem("must be a list of strings")
    return value


# On a field that must be sent: null is refused as missing, not as a wrong type.
Required = BeforeValidator(_required)

# P1 (highest) to P5; surrounding spaces are ignored.
Priority = Annotated[
    Text(2),
    AfterValidator(predicate(PRIORITIES.__contains__, f"must be one of: {', '.join(PRIORITIES)}")),
    WithJsonSchema({"type": "string", "enum": list(PRIORITIES)}),
]
Policy = Annotated[ResolvePolicy, Strict(False)]
ReviewState = Annotated[ReviewStatus, Strict(False)]
Summary = Text(publishing.MAX_SUMMARY)


def IdList(max_length: int) -> Any:  # noqa: N802 - a type factory, used like a type
    """Up to ``MAX_IDS`` strings of at most ``max_length`` characters, taken as sent."""
    return Annotated[Items(Text(max_length, strip=False), MAX_IDS), BeforeValidator(_strings)]


IncidentIds = Annotated[
    IdList(MAX_ID), AfterValidator(predicate(bool, "must name at least one incident"))
]


def from_row(model: type[ResponseModel], row: object, **computed: Any) -> dict[str, Any]:
    """The fields of ``model``: the ``computed`` ones, and the rest from ``row``'s attributes."""
    same = {name: getattr(row, name) for name in model.model_fields.keys() - computed.keys()}
    return {**same, **computed}


def whole_list(values: Sequence[Any]) -> dict[str, Any]:
    """The fields of a list that is never paged: everything, and no next page."""
    return {"values": list(values), "count": len(values), "links": PageLinks()}


# ── incidents ──────────────────────────────────────────────────────────────────────────────────


def _incident_status(value: Any) -> Any:
    if not value:
        return None  # ``?status=`` filters nothing, as if it were not there
    if value not in tuple(IncidentStatus):
        raise problem("must be open or resolved")
    return value


class IncidentQuery(PageQuery):
    status: Annotated[
        IncidentStatus | None,
        BeforeValidator(_incident_status),
        WithJsonSchema({"type": "string", "enum": [s.value for s in IncidentStatus]}),
    ] = Field(default=None, description="Only incidents in this state.")


class IncidentUpdate(RequestModel):
    """Components and alerts are added to the incident's; `issueKeys` replaces its keys."""

    summary: Summary | None = None
    description: Text(publishing.MAX_DESCRIPTION) | None = Field(
        default=None,
        description="Written by a person; empty shows the timeline generated from the alerts.",
    )
    severity: Priority | None = None
    component_ids: IdList(MAX_ID) | None = None
    alert_ids: IdList(MAX_ID) | None = Field(
        default=None, description="An alert of another incident moves to this one."
    )
    issue_keys: IdList(MAX_ISSUE_KEY) | None = None
    resolve_policy: Policy | None = None


class IncidentCreate(IncidentUpdate):
    """Without components or alerts the incident is on the workspace's fallback component; the
    resolve policy is `manual` unless given.
    """

    summary: Annotated[Text(publishing.MAX_SUMMARY, nonempty=True), Required]


class IncidentAlert(ResponseModel):
    id: str
    alias: str
    message: str
    priority: Priority
    status: str
    acknowledged: bool
    count: int = Field(ge=0)
    created_at: Timestamp

    @classmethod
    def of(cls, row: Alert) -> IncidentAlert:
        return cls(
            **from_row(cls, row, id=row.public_id, priority=str(row.priority), status=row.status)
        )


def incident_alerts(session: Session, incident: models.Incident) -> list[IncidentAlert]:
    rows = session.scalars(
        select(Alert)
        .join(models.IncidentAlert, models.IncidentAlert.alert_id == Alert.id)
        .where(models.IncidentAlert.incident_id == incident.id)
        .order_by(Alert.created_at, Alert.id)
    )
    return [IncidentAlert.of(a) for a in rows]


class Incident(ResponseModel):
    id: str
    summary: str = Field(max_length=publishing.MAX_SUMMARY)
    description: str | None
    status: IncidentStatus
    severity: Priority | None
    severity_raised_by: str | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="The alert that raised the severity; absent when a person set it.",
    )
    component_ids: list[str]
    issue_keys: list[str]
    resolve_policy: ResolvePolicy
    rule: str | None = Field(description="The promotion rule that opened it.")
    created_by: str
    created_at: Timestamp
    updated_at: Timestamp
    resolved_at: Timestamp | None
    update_sequence_number: int
    alerts: list[IncidentAlert] | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="On a single incident, not in lists.",
    )

    @classmethod
    def of(cls, session: Session, row: models.Incident, *, with_alerts: bool = False) -> Incident:
        raised_by = (
            session.get(Alert, row.severity_alert_id) if row.severity_alert_id is not None else None
        )
        return cls(
            **from_row(
                cls,
                row,
                id=row.public_id,
                severity_raised_by=raised_by.public_id if raised_by else None,
                component_ids=publishing.component_public_ids(session, row),
                issue_keys=list(row.issue_keys or []),
                rule=row.rule_name,
                alerts=incident_alerts(session, row) if with_alerts else None,
            )
        )


# ── reviews ────────────────────────────────────────────────────────────────────────────────────


class ReviewUpdate(RequestModel):
    """Status only moves forward: in progress → outstanding actions → completed."""

    incident_ids: IncidentIds | None = Field(
        default=None, json_schema_extra={"minItems": 1}, description="Replaces the incidents."
    )
    summary: Summary | None = None
    description: Text(publishing.MAX_DESCRIPTION, strip=False) | None = None
    status: ReviewState | None = None


class ReviewCreate(ReviewUpdate):
    """Without a summary or description both are written from the incidents (their timelines,
    and headings to fill in); the status is `in progress` unless given.
    """

    incident_ids: IncidentIds = Field(json_schema_extra={"minItems": 1})

    @model_validator(mode="before")
    @classmethod
    def _missing_incidents_are_none(cls, data: Any) -> Any:
        # Absent and null get the answer [] gets: a review needs an incident, not the field.
        if isinstance(data, Mapping) and data.get("incidentIds") is None:
            return {**data, "incidentIds": []}
        return data


class Review(ResponseModel):
    id: str
    summary: str = Field(max_length=publishing.MAX_SUMMARY)
    description: str
    status: ReviewStatus
    incident_ids: list[str]
    created_by: str | None
    created_at: Timestamp
    updated_at: Timestamp
    update_sequence_number: int

    @classmethod
    def of(cls, session: Session, row: models.Review) -> Review:
        incident_ids = publishing.review_incident_ids(session, row)
        return cls(**from_row(cls, row, id=row.public_id, incident_ids=incident_ids))


# ── promotion rules and component mappings ─────────────────────────────────────────────────────


def _priority(f: Fields, name: str) -> str | None:
    value = f.optional_str(name, max_len=2)
    if value is not None and value not in PRIORITIES:
        f.error(name, f"must be one of: {', '.join(PRIORITIES)}")
        return None
    return value


@dataclass(frozen=True, slots=True)
class RuleInput:
    name: str | None
    order: int | None
    enabled: bool | None
    filter: dict[str, Any] | None
    min_priority: str | None
    count_threshold: int | None
    unacknowledged_seconds: int | None
    action: RuleAction | None
    resolve_policy: ResolvePolicy | None
    present: frozenset[str]

    @classmethod
    def from_json(cls, raw: object, *, creating: bool) -> RuleInput:
        f = Fields(raw)
        name = (
            f.required_str("name", max_len=255) if creating else f.optional_str("name", max_len=255)
        )
        flt: dict[str, Any] | None = None
        if f.has("filter"):
            try:
                flt = filters.parse_filter(f.raw["filter"]).to_json()
            except ValidationFailed as e:
                f.error("filter", e.message)
        obj = cls(
            name=name,
            order=f.optional_int("order", minimum=0, maximum=10_000),
            enabled=f.optional_bool("enabled"),
            filter=flt,
            min_priority=_priority(f, "minPriority"),
            count_threshold=f.optional_int("countThreshold", minimum=1, maximum=1_000_000),
            unacknowledged_seconds=f.optional_int(
                "unacknowledgedForSeconds", minimum=1, maximum=MAX_UNACKNOWLEDGED_SECONDS
            ),
            action=f.enum("action", RuleAction),
            resolve_policy=f.enum("resolvePolicy", ResolvePolicy),
            present=frozenset(k for k in f.raw if isinstance(k, str)),
        )
        f.raise_if_errors()
        return obj


def rule_to_json(rule: IncidentRule) -> dict[str, Any]:
    return {
        "id": rule.public_id,
        "name": rule.name,
        "order": rule.position,
        "enabled": rule.enabled,
        "filter": rule.filter or filters.MATCH_ALL.to_json(),
        "minPriority": rule.min_priority,
        "countThreshold": rule.count_threshold,
        "unacknowledgedForSeconds": rule.unacknowledged_seconds,
        "action": rule.action.value,
        "resolvePolicy": rule.resolve_policy.value,
        "createdAt": iso(rule.created_at),
        "updatedAt": iso(rule.updated_at),
    }


@dataclass(frozen=True, slots=True)
class MappingInput:
    match_type: MatchType | None
    value: str | None
    key: str | None
    component_id: str | None
    order: int | None

    @classmethod
    def from_json(cls, raw: object, *, creating: bool) -> MappingInput:
        f = Fields(raw)
        match_type = f.enum("type", MatchType)
        value = (
            f.required_str("value", max_len=1000, strip=False)
            if creating
            else f.optional_str("value", max_len=1000, strip=False)
        )
        component_id = (
            f.required_str("componentId", max_len=64)
            if creating
            else f.optional_str("componentId", max_len=64)
        )
        if creating and match_type is None and "type" not in f.errors:
            f.error("type", "is required")
        key = f.optional_str("key", max_len=255)
        if match_type is MatchType.EXTRA_PROPERTY and not key:
            f.error("key", "is required for an extraProperty mapping")
        if match_type is MatchType.ENTITY_REGEX and value:
            problem = validate_pattern(value)
            if problem:
                f.error("value", problem)
        obj = cls(match_type, value, key, component_id, f.optional_int("order", minimum=0))
        f.raise_if_errors()
        return obj


def mapping_to_json(row: ComponentMapping, component: Component) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.public_id,
        "order": row.position,
        "type": row.match_type.value,
        "value": row.value,
        "componentId": component.public_id,
        "createdAt": iso(row.created_at),
    }
    if row.key is not None:
        out["key"] = row.key
    return out
