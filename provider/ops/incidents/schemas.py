"""The ``/v1`` wire shapes of incidents, reviews and their rules: parsing at the edge, JSON out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.errors import ValidationFailed
from provider.ops.alerts.models import Alert
from provider.ops.components.models import Component
from provider.ops.incidents import publishing
from provider.ops.incidents.facts import PRIORITIES
from provider.ops.incidents.mapping import MatchType
from provider.ops.incidents.mapping import validate_pattern
from provider.ops.incidents.models import ComponentMapping
from provider.ops.incidents.models import Incident
from provider.ops.incidents.models import IncidentAlert
from provider.ops.incidents.models import IncidentRule
from provider.ops.incidents.models import Review
from provider.ops.incidents.models import ReviewStatus
from provider.ops.incidents.rules import ResolvePolicy
from provider.ops.incidents.rules import RuleAction
from provider.ops.lang import filters
from provider.times import iso
from provider.validation import Fields

MAX_IDS = 100
MAX_UNACKNOWLEDGED_SECONDS = 7 * 24 * 3600


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


@dataclass(frozen=True, slots=True)
class IncidentInput:
    summary: str | None
    description: str | None
    severity: str | None
    component_ids: list[str] | None
    alert_ids: list[str] | None
    issue_keys: list[str] | None
    resolve_policy: ResolvePolicy | None

    @classmethod
    def from_json(cls, raw: object, *, creating: bool) -> IncidentInput:
        f = Fields(raw)
        summary = (
            f.required_str("summary", max_len=publishing.MAX_SUMMARY)
            if creating
            else f.optional_str("summary", max_len=publishing.MAX_SUMMARY)
        )
        obj = cls(
            summary=summary,
            description=f.optional_str("description", max_len=publishing.MAX_DESCRIPTION),
            severity=_priority(f, "severity"),
            component_ids=f.str_list("componentIds", max_items=MAX_IDS, max_len=64),
            alert_ids=f.str_list("alertIds", max_items=MAX_IDS, max_len=64),
            issue_keys=f.str_list("issueKeys", max_items=MAX_IDS, max_len=255),
            resolve_policy=f.enum("resolvePolicy", ResolvePolicy),
        )
        f.raise_if_errors()
        return obj


def incident_to_json(
    session: Session, incident: Incident, *, with_alerts: bool = False
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": incident.public_id,
        "summary": incident.summary,
        "description": incident.description,
        "status": incident.status.value,
        "severity": incident.severity,
        "componentIds": publishing.component_public_ids(session, incident),
        "issueKeys": list(incident.issue_keys or []),
        "resolvePolicy": incident.resolve_policy.value,
        "rule": incident.rule_name,
        "createdBy": incident.created_by,
        "createdAt": iso(incident.created_at),
        "updatedAt": iso(incident.updated_at),
        "resolvedAt": iso(incident.resolved_at),
        "updateSequenceNumber": incident.update_sequence_number,
    }
    if incident.severity_alert_id is not None:
        raised_by = session.get(Alert, incident.severity_alert_id)
        out["severityRaisedBy"] = raised_by.public_id if raised_by else None
    if with_alerts:
        alerts = session.scalars(
            select(Alert)
            .join(IncidentAlert, IncidentAlert.alert_id == Alert.id)
            .where(IncidentAlert.incident_id == incident.id)
            .order_by(Alert.created_at, Alert.id)
        )
        out["alerts"] = [
            {
                "id": a.public_id,
                "alias": a.alias,
                "message": a.message,
                "priority": str(a.priority),
                "status": a.status.value,
                "acknowledged": a.acknowledged,
                "count": a.count,
                "createdAt": iso(a.created_at),
            }
            for a in alerts
        ]
    return out


@dataclass(frozen=True, slots=True)
class ReviewInput:
    incident_ids: list[str] | None
    summary: str | None
    description: str | None
    status: ReviewStatus | None

    @classmethod
    def from_json(cls, raw: object, *, creating: bool) -> ReviewInput:
        f = Fields(raw)
        ids = f.str_list("incidentIds", max_items=MAX_IDS, max_len=64)
        if creating and not ids and "incidentIds" not in f.errors:
            f.error("incidentIds", "must name at least one incident")
        if ids is not None and not ids and not creating:
            f.error("incidentIds", "must name at least one incident")
        obj = cls(
            incident_ids=ids,
            summary=f.optional_str("summary", max_len=publishing.MAX_SUMMARY),
            description=f.optional_str(
                "description", max_len=publishing.MAX_DESCRIPTION, strip=False
            ),
            status=f.enum("status", ReviewStatus),
        )
        f.raise_if_errors()
        return obj


def review_to_json(session: Session, review: Review) -> dict[str, Any]:
    return {
        "id": review.public_id,
        "summary": review.summary,
        "description": review.description,
        "status": review.status.value,
        "incidentIds": publishing.review_incident_ids(session, review),
        "createdBy": review.created_by,
        "createdAt": iso(review.created_at),
        "updatedAt": iso(review.updated_at),
        "updateSequenceNumber": review.update_sequence_number,
    }
