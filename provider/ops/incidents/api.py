"""``/v1/incidents``, ``/v1/reviews``, ``/v1/incident-rules`` and ``/v1/component-mappings``.

Every lookup is scoped to the caller's workspace: another workspace's ids answer 404.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import Response
from flask import g
from sqlalchemy import func
from sqlalchemy import select

from provider.config import Settings
from provider.db import get_session
from provider.errors import NotFound
from provider.errors import ValidationFailed
from provider.extension import SETTINGS
from provider.ops.access.http import api_key_required
from provider.ops.access.http import json_body
from provider.ops.access.http import newest_first_page
from provider.ops.access.http import principal
from provider.ops.access.principal import CONFIGURE
from provider.ops.access.principal import READ
from provider.ops.access.principal import WRITE
from provider.ops.components.models import Component
from provider.ops.incidents import models
from provider.ops.incidents import reviews
from provider.ops.incidents import schemas
from provider.ops.incidents import service
from provider.ops.incidents.models import ComponentMapping
from provider.ops.incidents.models import IncidentRule
from provider.ops.incidents.models import ReviewStatus
from provider.ops.incidents.rules import ResolvePolicy
from provider.ops.incidents.rules import RuleAction
from provider.ops.incidents.schemas import Incident
from provider.ops.incidents.schemas import IncidentAlert
from provider.ops.incidents.schemas import IncidentCreate
from provider.ops.incidents.schemas import IncidentQuery
from provider.ops.incidents.schemas import IncidentUpdate
from provider.ops.incidents.schemas import Review
from provider.ops.incidents.schemas import ReviewCreate
from provider.ops.incidents.schemas import ReviewUpdate
from provider.ops.incidents.schemas import incident_alerts
from provider.ops.incidents.schemas import whole_list
from provider.schema.endpoint import endpoint
from provider.schema.pages import Page
from provider.schema.pages import PageQuery
from provider.schema.pages import page_of

bp = Blueprint("ops_incidents", __name__, url_prefix="/v1")

INCIDENTS = "Incidents"
REVIEWS = "Reviews"
Json = tuple[dict[str, Any], int]


def _base_url() -> str:
    settings: Settings = SETTINGS.get()
    return settings.base_url.rstrip("/")


def _actor() -> str:
    return principal().actor[:255]


# ── incidents ──────────────────────────────────────────────────────────────────────────────────


@bp.get("/incidents")
@api_key_required(READ)
@endpoint("List incidents", tag=INCIDENTS, query=IncidentQuery, responses={200: Page[Incident]})
def list_incidents(query: IncidentQuery) -> Page[Incident]:
    where = [models.Incident.workspace_id == g.workspace.id]
    if query.status is not None:
        where.append(models.Incident.status == query.status)
    session = get_session()
    rows, total = newest_first_page(session, models.Incident, where, query)
    return Page[Incident](**page_of([Incident.of(session, i) for i in rows], total, query))


@bp.post("/incidents")
@api_key_required(WRITE)
@endpoint(
    "Open an incident by hand",
    tag=INCIDENTS,
    body=IncidentCreate,
    responses={201: Incident},
    errors=[404],
)
def create_incident(body: IncidentCreate) -> Incident:
    session = get_session()
    incident = service.create_incident(
        session,
        g.workspace,
        summary=body.summary,
        base_url=_base_url(),
        description=body.description,
        severity=body.severity,
        component_ids=service.require_components(session, g.workspace.id, body.component_ids or []),
        alert_public_ids=body.alert_ids or [],
        issue_keys=body.issue_keys or [],
        resolve_policy=body.resolve_policy,
        created_by=_actor(),
    )
    session.commit()
    return Incident.of(session, incident, with_alerts=True)


@bp.get("/incidents/<incident_id>")
@api_key_required(READ)
@endpoint("Get an incident with its alerts", tag=INCIDENTS, responses={200: Incident})
def get_incident(incident_id: str) -> Incident:
    session = get_session()
    incident = service.require_incident(session, g.workspace.id, incident_id)
    return Incident.of(session, incident, with_alerts=True)


@bp.patch("/incidents/<incident_id>")
@api_key_required(WRITE)
@endpoint(
    "Update an incident",
    tag=INCIDENTS,
    body=IncidentUpdate,
    responses={200: Incident},
    errors=[409],
)
def update_incident(incident_id: str, body: IncidentUpdate) -> Incident:
    session = get_session()
    incident = service.require_incident(session, g.workspace.id, incident_id)
    service.update_incident(
        session,
        incident,
        base_url=_base_url(),
        summary=body.summary,
        description=body.description,
        severity=body.severity,
        component_ids=service.require_components(session, g.workspace.id, body.component_ids or []),
        alert_public_ids=body.alert_ids or [],
        issue_keys=body.issue_keys,
        resolve_policy=body.resolve_policy,
    )
    session.commit()
    return Incident.of(session, incident, with_alerts=True)


@bp.post("/incidents/<incident_id>/resolve")
@api_key_required(WRITE)
@endpoint("Resolve an incident", tag=INCIDENTS, responses={200: Incident}, errors=[409])
def resolve_incident(incident_id: str) -> Incident:
    session = get_session()
    incident = service.require_incident(session, g.workspace.id, incident_id)
    service.resolve_by_hand(session, incident, base_url=_base_url())
    session.commit()
    return Incident.of(session, incident, with_alerts=True)


@bp.get("/incidents/<incident_id>/alerts")
@api_key_required(READ)
@endpoint("The alerts of an incident", tag=INCIDENTS, responses={200: Page[IncidentAlert]})
def list_incident_alerts(incident_id: str) -> Page[IncidentAlert]:
    session = get_session()
    incident = service.require_incident(session, g.workspace.id, incident_id)
    return Page[IncidentAlert](**whole_list(incident_alerts(session, incident)))


# ── reviews ────────────────────────────────────────────────────────────────────────────────────


@bp.get("/reviews")
@api_key_required(READ)
@endpoint("List post-incident reviews", tag=REVIEWS, query=PageQuery, responses={200: Page[Review]})
def list_reviews(query: PageQuery) -> Page[Review]:
    session = get_session()
    where = [models.Review.workspace_id == g.workspace.id]
    rows, total = newest_first_page(session, models.Review, where, query)
    return Page[Review](**page_of([Review.of(session, r) for r in rows], total, query))


@bp.post("/reviews")
@api_key_required(WRITE)
@endpoint(
    "Create a post-incident review for one or more incidents",
    tag=REVIEWS,
    body=ReviewCreate,
    responses={201: Review},
    errors=[404],
)
def create_review(body: ReviewCreate) -> Review:
    session = get_session()
    review = reviews.create_review(
        session,
        g.workspace.id,
        reviews.require_incidents(session, g.workspace.id, body.incident_ids),
        base_url=_base_url(),
        summary=body.summary,
        description=body.description,
        status=body.status or ReviewStatus.IN_PROGRESS,
        created_by=_actor(),
    )
    session.commit()
    return Review.of(session, review)


@bp.get("/reviews/<review_id>")
@api_key_required(READ)
@endpoint("Get a review", tag=REVIEWS, responses={200: Review})
def get_review(review_id: str) -> Review:
    session = get_session()
    return Review.of(session, reviews.require_review(session, g.workspace.id, review_id))


@bp.patch("/reviews/<review_id>")
@api_key_required(WRITE)
@endpoint("Update a review", tag=REVIEWS, body=ReviewUpdate, responses={200: Review}, errors=[409])
def update_review(review_id: str, body: ReviewUpdate) -> Review:
    session = get_session()
    review = reviews.require_review(session, g.workspace.id, review_id)
    reviews.update_review(
        session,
        review,
        base_url=_base_url(),
        summary=body.summary,
        description=body.description,
        status=body.status,
        incidents=(
            reviews.require_incidents(session, g.workspace.id, body.incident_ids)
            if body.incident_ids is not None
            else None
        ),
    )
    session.commit()
    return Review.of(session, review)


# ── promotion rules ────────────────────────────────────────────────────────────────────────────


def _require_rule(rule_id: str) -> IncidentRule:
    rule = (
        get_session()
        .scalars(
            select(IncidentRule).where(
                IncidentRule.workspace_id == g.workspace.id, IncidentRule.public_id == rule_id[:64]
            )
        )
        .first()
    )
    if rule is None:
        raise NotFound("Incident rule does not exist.", code="rule_not_found")
    return rule


def _apply_rule(rule: IncidentRule, data: schemas.RuleInput) -> None:
    if data.name is not None:
        rule.name = data.name
    if data.order is not None:
        rule.position = data.order
    if data.enabled is not None:
        rule.enabled = data.enabled
    if "filter" in data.present:
        rule.filter = data.filter or {}
    if data.min_priority is not None:
        rule.min_priority = data.min_priority
    if "countThreshold" in data.present:
        rule.count_threshold = data.count_threshold
    if "unacknowledgedForSeconds" in data.present:
        rule.unacknowledged_seconds = data.unacknowledged_seconds
    if data.action is not None:
        rule.action = data.action
    if data.resolve_policy is not None:
        rule.resolve_policy = data.resolve_policy


@bp.get("/incident-rules")
@api_key_required(READ)
def list_rules() -> Json:
    rows = list(
        get_session().scalars(
            select(IncidentRule)
            .where(IncidentRule.workspace_id == g.workspace.id)
            .order_by(IncidentRule.position, IncidentRule.id)
        )
    )
    values = [schemas.rule_to_json(r) for r in rows]
    # With no rules of its own a workspace runs on the defaults; show them, marked as such.
    defaults = [
        {
            "name": spec.name,
            "minPriority": spec.min_priority,
            "countThreshold": spec.count_threshold,
            "unacknowledgedForSeconds": (
                int(spec.unacknowledged_for.total_seconds()) if spec.unacknowledged_for else None
            ),
            "action": spec.action.value,
            "resolvePolicy": spec.resolve_policy.value,
        }
        for spec in service.DEFAULT_RULES
    ]
    return {"values": values, "count": len(values), "defaults": defaults, "links": {}}, 200


@bp.post("/incident-rules")
@api_key_required(CONFIGURE)
def create_rule() -> Json:
    data = schemas.RuleInput.from_json(json_body(), creating=True)
    session = get_session()
    last = session.scalar(
        select(func.max(IncidentRule.position)).where(IncidentRule.workspace_id == g.workspace.id)
    )
    rule = IncidentRule(
        workspace_id=g.workspace.id,
        name=data.name or "",
        position=(last + 1) if last is not None else 0,
        filter={},
        action=RuleAction.PROMOTE,
        resolve_policy=ResolvePolicy.LAST_ALERT_CLOSED,
    )
    _apply_rule(rule, data)
    session.add(rule)
    session.commit()
    return schemas.rule_to_json(rule), 201


@bp.get("/incident-rules/<rule_id>")
@api_key_required(READ)
def get_rule(rule_id: str) -> Json:
    return schemas.rule_to_json(_require_rule(rule_id)), 200


@bp.patch("/incident-rules/<rule_id>")
@api_key_required(CONFIGURE)
def update_rule(rule_id: str) -> Json:
    rule = _require_rule(rule_id)
    _apply_rule(rule, schemas.RuleInput.from_json(json_body(), creating=False))
    get_session().commit()
    return schemas.rule_to_json(rule), 200


@bp.delete("/incident-rules/<rule_id>")
@api_key_required(CONFIGURE)
def delete_rule(rule_id: str) -> Response:
    session = get_session()
    session.delete(_require_rule(rule_id))
    session.commit()
    return Response(status=204)


# ── component mappings ─────────────────────────────────────────────────────────────────────────


def _require_mapping(mapping_id: str) -> tuple[ComponentMapping, Component]:
    row = (
        get_session()
        .execute(
            select(ComponentMapping, Component)
            .join(Component, Component.id == ComponentMapping.component_id)
            .where(
                ComponentMapping.workspace_id == g.workspace.id,
                ComponentMapping.public_id == mapping_id[:64],
            )
        )
        .first()
    )
    if row is None:
        raise NotFound("Component mapping does not exist.", code="mapping_not_found")
    return row[0], row[1]


@bp.get("/component-mappings")
@api_key_required(READ)
def list_mappings() -> Json:
    rows = get_session().execute(
        select(ComponentMapping, Component)
        .join(Component, Component.id == ComponentMapping.component_id)
        .where(ComponentMapping.workspace_id == g.workspace.id)
        .order_by(ComponentMapping.position, ComponentMapping.id)
    )
    values = [schemas.mapping_to_json(m, c) for m, c in rows]
    return {"values": values, "count": len(values), "links": {}}, 200


@bp.post("/component-mappings")
@api_key_required(CONFIGURE)
def create_mapping() -> Json:
    data = schemas.MappingInput.from_json(json_body(), creating=True)
    session = get_session()
    [component_id] = service.require_components(session, g.workspace.id, [data.component_id or ""])
    last = session.scalar(
        select(func.max(ComponentMapping.position)).where(
            ComponentMapping.workspace_id == g.workspace.id
        )
    )
    row = ComponentMapping(
        workspace_id=g.workspace.id,
        position=data.order if data.order is not None else ((last + 1) if last is not None else 0),
        match_type=data.match_type,
        key=data.key,
        value=data.value or "",
        component_id=component_id,
    )
    session.add(row)
    session.commit()
    return schemas.mapping_to_json(row, session.get_one(Component, component_id)), 201


@bp.patch("/component-mappings/<mapping_id>")
@api_key_required(CONFIGURE)
def update_mapping(mapping_id: str) -> Json:
    session = get_session()
    row, component = _require_mapping(mapping_id)
    data = schemas.MappingInput.from_json(json_body(), creating=False)
    if data.component_id is not None:
        [row.component_id] = service.require_components(
            session, g.workspace.id, [data.component_id]
        )
        component = session.get_one(Component, row.component_id)
    if data.match_type is not None:
        row.match_type = data.match_type
    if data.value is not None:
        row.value = data.value
    if data.key is not None:
        row.key = data.key
    if data.order is not None:
        row.position = data.order
    problem = schemas.validate_pattern(row.value) if row.match_type.value == "entityRegex" else None
    if problem:
        raise ValidationFailed(f"value {problem}", details={"source": {"pointer": "/value"}})
    session.commit()
    return schemas.mapping_to_json(row, component), 200


@bp.delete("/component-mappings/<mapping_id>")
@api_key_required(CONFIGURE)
def delete_mapping(mapping_id: str) -> Response:
    session = get_session()
    row, _ = _require_mapping(mapping_id)
    session.delete(row)
    session.commit()
    return Response(status=204)
