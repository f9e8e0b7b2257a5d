"""``/v1/incidents``, ``/v1/reviews``, ``/v1/incident-rules`` and ``/v1/component-mappings``.

Every lookup is scoped to the caller's workspace: another workspace's ids answer 404.
"""

from __future__ import annotations

from typing import TypedDict

from flask import Blueprint
from flask import g
from sqlalchemy.orm import Session

from provider.db import get_session
from provider.ops.access.http import newest_first_page
from provider.ops.access.http import principal
from provider.ops.access.principal import CONFIGURE
from provider.ops.components import service as components
from provider.ops.incidents import configuration
from provider.ops.incidents import issue_sync
from provider.ops.incidents import models
from provider.ops.incidents import reviews
from provider.ops.incidents import service
from provider.ops.incidents.issue_schemas import IssueSync
from provider.ops.incidents.issue_schemas import IssueSyncUpdate
from provider.ops.incidents.models import ReviewStatus
from provider.ops.incidents.rules import DEFAULT_RULES
from provider.ops.incidents.rules import ResolvePolicy
from provider.ops.incidents.schemas import ComponentMapping
from provider.ops.incidents.schemas import ComponentMappingCreate
from provider.ops.incidents.schemas import ComponentMappingList
from provider.ops.incidents.schemas import ComponentMappingUpdate
from provider.ops.incidents.schemas import Incident
from provider.ops.incidents.schemas import IncidentAlert
from provider.ops.incidents.schemas import IncidentCreate
from provider.ops.incidents.schemas import IncidentQuery
from provider.ops.incidents.schemas import IncidentRule
from provider.ops.incidents.schemas import IncidentRuleCreate
from provider.ops.incidents.schemas import IncidentRuleDefault
from provider.ops.incidents.schemas import IncidentRuleList
from provider.ops.incidents.schemas import IncidentRuleUpdate
from provider.ops.incidents.schemas import IncidentUpdate
from provider.ops.incidents.schemas import Review
from provider.ops.incidents.schemas import ReviewCreate
from provider.ops.incidents.schemas import ReviewUpdate
from provider.ops.incidents.schemas import incident_alerts
from provider.ops.incidents.schemas import whole_list
from provider.ops.routes import Owned
from provider.ops.routes import Routes
from provider.schema.pages import Page
from provider.schema.pages import PageQuery

bp = Blueprint("ops_incidents", __name__, url_prefix="/v1")

route = Routes(bp, "Incidents")
review_route = Routes(bp, "Reviews")
# Promotion rules, component mappings and issue sync are the workspace's settings.
settings_route = Routes(bp, "Incidents", writes=CONFIGURE)
DELETED = {204: "Deleted"}
INCIDENT_RULE = Owned("incident_rule", configuration.require_rule, IncidentRule)


def _incident(session: Session, incident_id: str) -> models.Incident:
    """The caller's incident named in the path (another workspace's answers 404)."""
    return service.require_incident(session, g.workspace.id, incident_id)


def _actor() -> str:
    return principal().actor[:255]


class _IncidentFields(TypedDict):
    description: str | None
    severity: str | None
    component_ids: list[int]
    alert_public_ids: list[str]
    resolve_policy: ResolvePolicy | None


def _incident_fields(session: Session, body: IncidentUpdate) -> _IncidentFields:
    """What opening and updating an incident read alike from the body: the components (in the
    caller's workspace, else 404) and alerts to add, and the fields that replace the incident's.
    """
    return _IncidentFields(
        description=body.description,
        severity=body.severity,
        component_ids=components.require_ids(session, g.workspace.id, body.component_ids or []),
        alert_public_ids=body.alert_ids or [],
        resolve_policy=body.resolve_policy,
    )


# ── incidents ──────────────────────────────────────────────────────────────────────────────────


@route.get("/incidents", "List incidents", Page[Incident], query=IncidentQuery)
def list_incidents(query: IncidentQuery) -> Page[Incident]:
    status = [] if query.status is None else [models.Incident.status == query.status]
    return Page[Incident](**newest_first_page(models.Incident, Incident.of, query, *status))


@route(
    "POST",
    "/incidents",
    "Open an incident by hand",
    {201: Incident},
    body=IncidentCreate,
    errors=[404],
)
def create_incident(body: IncidentCreate) -> Incident:
    session = get_session()
    incident = service.create_incident(
        session,
        g.workspace,
        summary=body.summary,
        issue_keys=body.issue_keys or [],
        created_by=_actor(),
        **_incident_fields(session, body),
    )
    session.commit()
    return Incident.of(session, incident, with_alerts=True)


@route.get("/incidents/<incident_id>", "Get an incident with its alerts", Incident)
def get_incident(incident_id: str) -> Incident:
    session = get_session()
    incident = _incident(session, incident_id)
    return Incident.of(session, incident, with_alerts=True)


@route(
    "PATCH",
    "/incidents/<incident_id>",
    "Update an incident",
    {200: Incident},
    body=IncidentUpdate,
    errors=[409],
)
def update_incident(incident_id: str, body: IncidentUpdate) -> Incident:
    session = get_session()
    incident = _incident(session, incident_id)
    service.update_incident(
        session,
        incident,
        summary=body.summary,
        issue_keys=body.issue_keys,
        **_incident_fields(session, body),
    )
    session.commit()
    return Incident.of(session, incident, with_alerts=True)


@route(
    "POST", "/incidents/<incident_id>/resolve", "Resolve an incident", {200: Incident}, errors=[409]
)
def resolve_incident(incident_id: str) -> Incident:
    session = get_session()
    incident = _incident(session, incident_id)
    service.resolve_by_hand(session, incident)
    session.commit()
    return Incident.of(session, incident, with_alerts=True)


@route.get("/incidents/<incident_id>/alerts", "The alerts of an incident", Page[IncidentAlert])
def list_incident_alerts(incident_id: str) -> Page[IncidentAlert]:
    session = get_session()
    incident = _incident(session, incident_id)
    return Page[IncidentAlert](**whole_list(incident_alerts(session, incident)))


# ── reviews ────────────────────────────────────────────────────────────────────────────────────


@review_route.get("/reviews", "List post-incident reviews", Page[Review], query=PageQuery)
def list_reviews(query: PageQuery) -> Page[Review]:
    return Page[Review](**newest_first_page(models.Review, Review.of, query))


@review_route(
    "POST",
    "/reviews",
    "Create a post-incident review for one or more incidents",
    {201: Review},
    body=ReviewCreate,
    errors=[404],
)
def create_review(body: ReviewCreate) -> Review:
    session = get_session()
    review = reviews.create_review(
        session,
        g.workspace.id,
        reviews.require_incidents(session, g.workspace.id, body.incident_ids),
        summary=body.summary,
        description=body.description,
        status=body.status or ReviewStatus.IN_PROGRESS,
        created_by=_actor(),
    )
    session.commit()
    return Review.of(session, review)


@review_route.get("/reviews/<review_id>", "Get a review", Review)
def get_review(review_id: str) -> Review:
    session = get_session()
    return Review.of(session, reviews.require_review(session, g.workspace.id, review_id))


@review_route(
    "PATCH",
    "/reviews/<review_id>",
    "Update a review",
    {200: Review},
    body=ReviewUpdate,
    errors=[409],
)
def update_review(review_id: str, body: ReviewUpdate) -> Review:
    session = get_session()
    review = reviews.require_review(session, g.workspace.id, review_id)
    reviews.update_review(
        session,
        review,
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


@settings_route.get("/incident-rules", "List promotion rules (and the defaults)", IncidentRuleList)
def list_incident_rules() -> IncidentRuleList:
    rules = configuration.list_rules(get_session(), g.workspace.id)
    return IncidentRuleList(
        **whole_list([IncidentRule.of(r) for r in rules]),
        defaults=[IncidentRuleDefault.of(spec) for spec in DEFAULT_RULES],
    )


# ── linked Jira issues ─────────────────────────────────────────────────────────────────────────


@settings_route.get(
    "/incident-issue-sync", "How incidents keep their linked Jira issues in step", IssueSync
)
def get_issue_sync() -> IssueSync:
    return IssueSync.of(issue_sync.settings_of(get_session(), g.workspace.id))


@settings_route(
    "PUT",
    "/incident-issue-sync",
    "Set how incidents keep their linked Jira issues in step",
    {200: IssueSync},
    body=IssueSyncUpdate,
)
def put_issue_sync(body: IssueSyncUpdate) -> IssueSync:
    session = get_session()
    row = issue_sync.save_settings(
        session,
        g.workspace.id,
        comment=body.comment,
        transitions=body.transitions.model_dump(exclude_none=True),
        resolve_on_issue_done=body.resolve_on_issue_done,
    )
    session.commit()
    return IssueSync.of(row)


create_incident_rule = settings_route.owned(
    "POST",
    "/incident-rules",
    "Create a promotion rule",
    INCIDENT_RULE,
    configuration.create_rule,
    body=IncidentRuleCreate,
)
get_incident_rule = settings_route.owned(
    "GET", "/incident-rules/<rule_id>", "Get a promotion rule", INCIDENT_RULE
)
update_incident_rule = settings_route.owned(
    "PATCH",
    "/incident-rules/<rule_id>",
    "Update a promotion rule",
    INCIDENT_RULE,
    configuration.update_rule,
    body=IncidentRuleUpdate,
)
delete_incident_rule = settings_route.owned(
    "DELETE", "/incident-rules/<rule_id>", "Delete a promotion rule", INCIDENT_RULE, Session.delete
)


# ── component mappings ─────────────────────────────────────────────────────────────────────────


@settings_route.get(
    "/component-mappings", "List component-mapping rules, in order", ComponentMappingList
)
def list_component_mappings() -> ComponentMappingList:
    rows = configuration.list_mappings(get_session(), g.workspace.id)
    return ComponentMappingList(**whole_list([ComponentMapping.of(m, c) for m, c in rows]))


@settings_route(
    "POST",
    "/component-mappings",
    "Create a component-mapping rule",
    {201: ComponentMapping},
    body=ComponentMappingCreate,
    errors=[404],
)
def create_component_mapping(body: ComponentMappingCreate) -> ComponentMapping:
    session = get_session()
    row, component = configuration.create_mapping(session, g.workspace.id, body)
    session.commit()
    return ComponentMapping.of(row, component)


@settings_route(
    "PATCH",
    "/component-mappings/<mapping_id>",
    "Update a component-mapping rule",
    {200: ComponentMapping},
    body=ComponentMappingUpdate,
)
def update_component_mapping(mapping_id: str, body: ComponentMappingUpdate) -> ComponentMapping:
    session = get_session()
    mapping = configuration.require_mapping(session, g.workspace.id, mapping_id)
    row, component = configuration.update_mapping(session, mapping, body)
    session.commit()
    return ComponentMapping.of(row, component)


@settings_route(
    "DELETE", "/component-mappings/<mapping_id>", "Delete a component-mapping rule", DELETED
)
def delete_component_mapping(mapping_id: str) -> None:
    session = get_session()
    row, _ = configuration.require_mapping(session, g.workspace.id, mapping_id)
    session.delete(row)
    session.commit()
