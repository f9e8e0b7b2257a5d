"""The ``/v1`` bodies of incidents, reviews, promotion rules and component mappings.

In every request body here ``null`` is as good as absent: an update leaves the field as it is, a
create takes the default. The exceptions are a promotion rule's ``filter`` and thresholds, where
``null`` clears the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Annotated
from typing import Any

from pydantic import AfterValidator
from pydantic import BeforeValidator
from pydantic import Field
from pydantic import PlainSerializer
from pydantic import PlainValidator
from pydantic import Strict
from pydantic import ValidationInfo
from pydantic import WithJsonSchema
from pydantic import field_validator
from pydantic import model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.jira.schemas import MAX_DESCRIPTION
from provider.jira.schemas import MAX_SUMMARY
from provider.ops.alerts.service import Alert
from provider.ops.components.service import Component
from provider.ops.incidents import models
from provider.ops.incidents.mapping import MatchType
from provider.ops.incidents.mapping import validate_pattern
from provider.ops.incidents.models import IncidentStatus
from provider.ops.incidents.models import ReviewStatus
from provider.ops.incidents.rules import ResolvePolicy
from provider.ops.incidents.rules import RuleAction
from provider.ops.incidents.rules import RuleSpec
from provider.ops.lang.filter_schemas import FilterInput
from provider.ops.lang.filter_schemas import FilterOutput
from provider.ops.priority import PRIORITIES
from provider.ops.sync.payloads import component_public_ids
from provider.ops.sync.payloads import review_incident_ids
from provider.schema.fields import Items
from provider.schema.fields import RequestModel
from provider.schema.fields import ResponseModel
from provider.schema.fields import Text
from provider.schema.fields import Timestamp
from provider.schema.fields import predicate
from provider.schema.fields import problem
from provider.schema.pages import Page
from provider.schema.pages import PageLinks
from provider.schema.pages import PageQuery

MAX_IDS = 100
MAX_ID = 64
MAX_ISSUE_KEY = 255
MAX_NAME = 255
MAX_RULE_ORDER = 10_000
MAX_COUNT_THRESHOLD = 1_000_000
MAX_UNACKNOWLEDGED_SECONDS = 7 * 24 * 3600
MAX_MAPPING_VALUE = 1000
MAX_MAPPING_KEY = 255
# Positions are 32-bit integer columns on PostgreSQL.
MAX_POSITION = 2**31 - 1


def _required(value: Any) -> Any:
    if value is None:
        raise problem("is required")
    return value


def _strings(value: Any) -> Any:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise problem("must be a list of strings")
    return value


def _mapping_type(value: Any) -> MatchType:
    try:
        return MatchType(value)
    except (ValueError, TypeError):
        raise problem(f"must be one of: {', '.join(MatchType)}") from None


# On a field that must be sent: null is refused as missing, not as a wrong type.
Required = BeforeValidator(_required)

# P1 (highest) to P5; surrounding spaces are ignored.
Priority = Annotated[
    Annotated[str, Text(2)],
    AfterValidator(predicate(PRIORITIES.__contains__, f"must be one of: {', '.join(PRIORITIES)}")),
    WithJsonSchema({"type": "string", "enum": list(PRIORITIES)}),
]
Policy = Annotated[ResolvePolicy, Strict(False)]
Action = Annotated[RuleAction, Strict(False)]
ReviewState = Annotated[ReviewStatus, Strict(False)]
# The filter grammar has a MatchType of its own: validated and described here without the enum's
# name, the document keeps one schema called MatchType.
MappingType = Annotated[
    MatchType,
    PlainValidator(_mapping_type),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "enum": [t.value for t in MatchType]}),
]
Summary = Annotated[str, Text(MAX_SUMMARY)]
Position = Annotated[int, Field(ge=0, le=MAX_POSITION)]


# Up to MAX_IDS strings of at most so many characters, taken as sent.
Ids = Annotated[
    list[Annotated[str, Text(MAX_ID, strip=False)]], Items(MAX_IDS), BeforeValidator(_strings)
]
IssueKeys = Annotated[
    list[Annotated[str, Text(MAX_ISSUE_KEY, strip=False)]],
    Items(MAX_IDS),
    BeforeValidator(_strings),
]
IncidentIds = Annotated[Ids, AfterValidator(predicate(bool, "must name at least one incident"))]


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
    description: Annotated[str, Text(MAX_DESCRIPTION)] | None = Field(
        default=None,
        description="Written by a person; empty shows the timeline generated from the alerts.",
    )
    severity: Priority | None = None
    component_ids: Ids | None = None
    alert_ids: Ids | None = Field(
        default=None, description="An alert of another incident moves to this one."
    )
    issue_keys: IssueKeys | None = None
    resolve_policy: Policy | None = None


class IncidentCreate(IncidentUpdate):
    """Without components or alerts the incident is on the workspace's fallback component; the
    resolve policy is `manual` unless given.
    """

    summary: Annotated[Annotated[str, Text(MAX_SUMMARY, nonempty=True)], Required]


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
        return cls.from_row(row, id=row.public_id, priority=str(row.priority), status=row.status)


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
    summary: str = Field(max_length=MAX_SUMMARY)
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
        return cls.from_row(
            row,
            id=row.public_id,
            severity_raised_by=raised_by.public_id if raised_by else None,
            component_ids=component_public_ids(session, row),
            issue_keys=list(row.issue_keys or []),
            rule=row.rule_name,
            alerts=incident_alerts(session, row) if with_alerts else None,
        )


# ── reviews ────────────────────────────────────────────────────────────────────────────────────


class ReviewUpdate(RequestModel):
    """Status only moves forward: in progress → outstanding actions → completed."""

    incident_ids: IncidentIds | None = Field(
        default=None, json_schema_extra={"minItems": 1}, description="Replaces the incidents."
    )
    summary: Summary | None = None
    description: Annotated[str, Text(MAX_DESCRIPTION, strip=False)] | None = None
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
    summary: str = Field(max_length=MAX_SUMMARY)
    description: str
    status: ReviewStatus
    incident_ids: list[str]
    created_by: str | None
    created_at: Timestamp
    updated_at: Timestamp
    update_sequence_number: int

    @classmethod
    def of(cls, session: Session, row: models.Review) -> Review:
        incident_ids = review_incident_ids(session, row)
        return cls.from_row(row, id=row.public_id, incident_ids=incident_ids)


# ── promotion rules ────────────────────────────────────────────────────────────────────────────

# Body fields whose null clears the column, and body fields stored under another name.
_RULE_CLEARED_BY_NULL = frozenset({"filter", "count_threshold", "unacknowledged_for_seconds"})
_RULE_COLUMNS = {"order": "position", "unacknowledged_for_seconds": "unacknowledged_seconds"}


class IncidentRuleUpdate(RequestModel):
    """`null` clears `filter`, `countThreshold` and `unacknowledgedForSeconds`."""

    name: Annotated[str, Text(MAX_NAME)] | None = None
    order: Annotated[int, Field(ge=0, le=MAX_RULE_ORDER)] | None = Field(
        default=None, description="Rules are tried in order, the first match deciding."
    )
    enabled: bool | None = None
    filter: FilterInput | None = Field(default=None, description="Null matches every alert.")
    min_priority: Priority | None = Field(
        default=None, description="The lowest priority the rule applies to."
    )
    count_threshold: Annotated[int, Field(ge=1, le=MAX_COUNT_THRESHOLD)] | None = None
    unacknowledged_for_seconds: (
        Annotated[int, Field(ge=1, le=MAX_UNACKNOWLEDGED_SECONDS)] | None
    ) = None
    action: Action | None = None
    resolve_policy: Policy | None = None

    def changes(self) -> dict[str, Any]:
        """The rule's columns this body sets, by column name."""
        out: dict[str, Any] = {}
        for name in self.model_fields_set:
            value = getattr(self, name)
            if value is None and name not in _RULE_CLEARED_BY_NULL:
                continue
            if name == "filter":
                value = value.to_filter().to_json() if value is not None else {}
            out[_RULE_COLUMNS.get(name, name)] = value
        return out


class IncidentRuleCreate(IncidentRuleUpdate):
    """A new rule goes last unless given an `order`; it applies from P5 up, promotes, and
    resolves its incidents when their last alert closes, unless told otherwise.
    """

    name: Annotated[Annotated[str, Text(MAX_NAME, nonempty=True)], Required]


class RuleBehaviour(ResponseModel):
    name: str
    min_priority: Priority
    count_threshold: int | None
    unacknowledged_for_seconds: int | None
    action: RuleAction
    resolve_policy: ResolvePolicy


class IncidentRuleDefault(RuleBehaviour):
    @classmethod
    def of(cls, spec: RuleSpec) -> IncidentRuleDefault:
        waiting = spec.unacknowledged_for
        seconds = int(waiting.total_seconds()) if waiting else None
        return cls.from_row(spec, unacknowledged_for_seconds=seconds)


class IncidentRule(RuleBehaviour):
    id: str
    order: int = Field(ge=0)
    enabled: bool
    filter: FilterOutput
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, row: models.IncidentRule) -> IncidentRule:
        return cls.from_row(
            row,
            id=row.public_id,
            order=row.position,
            filter=FilterOutput.of(row.filter),
            unacknowledged_for_seconds=row.unacknowledged_seconds,
        )


class IncidentRuleList(Page[IncidentRule]):
    defaults: list[IncidentRuleDefault] = Field(
        description="The rules a workspace runs on while it has none of its own."
    )


# ── component mappings ─────────────────────────────────────────────────────────────────────────


MAPPING_VALUE = "Compared as sent; with entityRegex, a regular expression."


class ComponentMappingUpdate(RequestModel):
    match_type: MappingType | None = Field(default=None, alias="type")
    value: Annotated[str, Text(MAX_MAPPING_VALUE, strip=False)] | None = Field(
        default=None, description=MAPPING_VALUE
    )
    key: Annotated[str, Text(MAX_MAPPING_KEY)] | None = Field(
        default=None, validate_default=True, description="Required for extraProperty."
    )
    component_id: Annotated[str, Text(MAX_ID)] | None = None
    order: Position | None = Field(default=None, description="Mappings are tried in order.")

    @field_validator("value")
    @classmethod
    def _pattern_compiles(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value and info.data.get("match_type") is MatchType.ENTITY_REGEX:
            error = validate_pattern(value)
            if error:
                raise problem(error)
        return value

    @field_validator("key")
    @classmethod
    def _key_names_the_property(cls, key: str | None, info: ValidationInfo) -> str | None:
        if not key and info.data.get("match_type") is MatchType.EXTRA_PROPERTY:
            raise problem("is required for an extraProperty mapping")
        return key

    def changes(self) -> dict[str, Any]:
        """The mapping's columns this body sets (its component is looked up by id)."""
        columns = {"match_type": "match_type", "value": "value", "key": "key", "order": "position"}
        values = {column: getattr(self, name) for name, column in columns.items()}
        return {column: value for column, value in values.items() if value is not None}


class ComponentMappingCreate(ComponentMappingUpdate):
    match_type: Annotated[MappingType, Required] = Field(alias="type")
    # Blank is a value here (compared as sent); only empty is refused.
    value: Annotated[
        Annotated[str, Text(MAX_MAPPING_VALUE, strip=False)],
        AfterValidator(predicate(bool, "must not be empty")),
        Required,
    ] = Field(description=MAPPING_VALUE)
    component_id: Annotated[Annotated[str, Text(MAX_ID, nonempty=True)], Required]


class ComponentMapping(ResponseModel):
    id: str
    order: int = Field(ge=0)
    match_type: MappingType = Field(alias="type")
    value: str
    key: str | None = Field(default=None, exclude_if=lambda value: value is None)
    component_id: str
    created_at: Timestamp

    @classmethod
    def of(cls, row: models.ComponentMapping, component: Component) -> ComponentMapping:
        return cls.from_row(
            row, id=row.public_id, order=row.position, component_id=component.public_id
        )


class ComponentMappingList(Page[ComponentMapping]):
    """Every mapping of the workspace, in the order they are tried."""
