"""Promotion: incidents opened from alerts by rules, joined by later alerts, resolved by policy.

Called after every alert change (:func:`handle_alert`, through the incidents listener), by the
worker's job (:func:`promote_due`) and by the incidents service. Functions take the session first and never
commit. Race safety: the components an alert maps to are locked (``FOR UPDATE`` on PostgreSQL;
SQLite serialises writers with ``BEGIN IMMEDIATE``) before looking for their open incident, and
a partial unique index allows one collecting incident per component in any case.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from datetime import datetime
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from provider.db import among
from provider.jira.schemas import MAX_ITEMS
from provider.jira.schemas import MAX_SUMMARY
from provider.jira.schemas import clip
from provider.ops.components import service as components
from provider.ops.incidents import alert_source
from provider.ops.incidents import mapping
from provider.ops.incidents import timeline
from provider.ops.incidents.batch import BatchIncidents
from provider.ops.incidents.batch import TimelineTail
from provider.ops.incidents.facts import AlertFacts
from provider.ops.incidents.facts import priority_rank
from provider.ops.incidents.models import ComponentMapping
from provider.ops.incidents.models import Incident
from provider.ops.incidents.models import IncidentAlert
from provider.ops.incidents.models import IncidentComponent
from provider.ops.incidents.models import IncidentRule
from provider.ops.incidents.models import IncidentStatus
from provider.ops.incidents.models import PromotionCandidate
from provider.ops.incidents.rules import DEFAULT_RULES
from provider.ops.incidents.rules import ResolvePolicy
from provider.ops.incidents.rules import RuleSpec
from provider.ops.incidents.rules import Verdict
from provider.ops.incidents.rules import decide
from provider.ops.lang import filter_schemas
from provider.ops.lang import filters
from provider.ops.lang.regex import Budget
from provider.ops.workspaces.service import Workspace
from provider.times import utcnow

logger = logging.getLogger(__name__)

DUE_BATCH = 200


# ── rules of a workspace ───────────────────────────────────────────────────────────────────────


# The statements alert processing runs for every alert change, built once rather than per call
# (building and hashing a statement cost as much as running it).
_RULES = (
    select(IncidentRule)
    .where(IncidentRule.workspace_id == bindparam("workspace_id"))
    .order_by(IncidentRule.position, IncidentRule.id)
)
_MAPPINGS = (
    select(ComponentMapping)
    .where(ComponentMapping.workspace_id == bindparam("workspace_id"))
    .order_by(ComponentMapping.position, ComponentMapping.id)
)
_COLLECTING = (
    select(Incident)
    .join(IncidentComponent, IncidentComponent.incident_id == Incident.id)
    .where(
        among(IncidentComponent.component_id, "component_ids"),
        IncidentComponent.collecting.is_(True),
        Incident.status == IncidentStatus.OPEN,
    )
    .order_by(Incident.id)
    .limit(1)
)
_COMPONENTS_OF = select(IncidentComponent.component_id).where(
    IncidentComponent.incident_id == bindparam("incident_id")
)
# Which of these components an open incident already collects for.
_CLAIMED = select(IncidentComponent.component_id).where(
    among(IncidentComponent.component_id, "component_ids"),
    IncidentComponent.collecting.is_(True),
)


def rule_specs(session: Session, workspace_id: int) -> list[RuleSpec]:
    """The workspace's enabled promotion rules in order, or the default ones if it has none."""
    rows = list(session.scalars(_RULES, {"workspace_id": workspace_id}))
    if not rows:
        return list(DEFAULT_RULES)
    return [
        RuleSpec(
            name=r.name,
            min_priority=r.min_priority,
            filter=r.filter or None,
            count_threshold=r.count_threshold,
            unacknowledged_for=(
                timedelta(seconds=r.unacknowledged_seconds)
                if r.unacknowledged_seconds is not None
                else None
            ),
            action=r.action,
            resolve_policy=r.resolve_policy,
            rule_id=r.id,
        )
        for r in rows
        if r.enabled
    ]


def filter_matches(
    condition: Mapping[str, Any] | None,
    alert: AlertFacts,
    budget: Budget | None = None,
    parse: Callable[[Mapping[str, Any]], filters.Filter] = filter_schemas.stored_filter,
) -> bool:
    """The integration actions' filter grammar, applied to the alert's fields."""
    if not condition:
        return True
    try:
        return filters.evaluate(parse(condition), alert.raw, budget)
    except Exception:  # a stored filter that no longer parses must not stop alert processing
        logger.warning("promotion rule filter could not be evaluated; rule skipped")
        return False


def mapping_rules(session: Session, workspace_id: int) -> list[mapping.MappingRule]:
    rows = session.scalars(_MAPPINGS, {"workspace_id": workspace_id})
    return [mapping.MappingRule(r.match_type, r.value, r.component_id, key=r.key) for r in rows]


def resolve_components(
    session: Session,
    workspace: Workspace,
    alert: AlertFacts,
    budget: Budget | None = None,
    batch: BatchIncidents | None = None,
) -> list[int]:
    batch = batch if batch is not None else BatchIncidents()
    wanted = tuple(mapping.convention_names(alert))
    names = batch.remember(
        ("names", workspace.id, wanted), lambda: components.ids_named(session, workspace.id, wanted)
    )
    rules = batch.remember(("mappings", workspace.id), lambda: mapping_rules(session, workspace.id))
    found = mapping.resolve_component_ids(alert, rules, names, fallback_id=0, budget=budget)
    if found == [0]:
        return [
            batch.remember(
                ("fallback", workspace.id),
                lambda: components.fallback_component(session, workspace.id).id,
            )
        ]
    return found


# ── incidents ──────────────────────────────────────────────────────────────────────────────────


def collecting_incident(session: Session, component_ids: Sequence[int]) -> Incident | None:
    if not component_ids:
        return None
    return session.scalars(_COLLECTING, {"component_ids": list(component_ids)}).first()


def components_of(session: Session, incident: Incident) -> set[int]:
    return set(session.scalars(_COMPONENTS_OF, {"incident_id": incident.id}))


def add_components(
    session: Session,
    incident: Incident,
    component_ids: Sequence[int],
    present: set[int] | None = None,
) -> None:
    """Add the components the incident lacks. ``present``: its components, when the caller
    knows them; the ones added are added to it."""
    if present is None:
        present = components_of(session, incident)
    missing = [c for c in dict.fromkeys(component_ids) if c not in present]
    if not missing or len(present) >= MAX_ITEMS:
        return  # most alerts join an incident on the components it already has
    claimed = set(session.scalars(_CLAIMED, {"component_ids": missing}))
    for position, component_id in enumerate(missing, start=len(present)):
        session.add(
            IncidentComponent(
                incident_id=incident.id,
                component_id=component_id,
                collecting=incident.status is IncidentStatus.OPEN and component_id not in claimed,
                position=position,
            )
        )
    present.update(missing)
    session.flush()


def _raise_severity(incident: Incident, alert: AlertFacts) -> bool:
    """Raise the severity to the alert's priority if higher; never lowers it."""
    if priority_rank(alert.priority) < priority_rank(incident.severity):
        incident.severity = alert.priority
        incident.severity_alert_id = alert.id
        incident.severity_raised_at = utcnow()
        return True
    return False


def attach(
    session: Session,
    incident: Incident,
    alert: AlertFacts,
    component_ids: list[int],
    *,
    opened: bool = False,
    tail: TimelineTail | None = None,
    present: set[int] | None = None,
) -> None:
    """Make the alert part of the incident (which it opened, when ``opened``); ``tail``: the
    batch's timeline tail, told of the entries recorded; ``present``: the incident's
    components, when the caller knows them (see :func:`add_components`)."""
    # Written with the batch's other changes: a join reads nothing that needs it first.
    session.add(IncidentAlert(alert_id=alert.id, incident_id=incident.id))
    add_components(session, incident, component_ids, present)
    before = incident.severity
    raised = _raise_severity(incident, alert)
    _merge_issue_keys(session, incident, alert, quiet=opened)
    timeline.alert_joined(session, incident, alert, opened=opened, tail=tail)
    if raised and not opened:
        timeline.severity_changed(
            session, incident, before, f"raised by alert “{alert.message}”", actor="alert"
        )
        if tail is not None:
            tail.news(incident.id)


def _merge_issue_keys(
    session: Session, incident: Incident, alert: AlertFacts, *, quiet: bool = False
) -> bool:
    """Add the issue keys the alert names; the new ones hear of the incident unless ``quiet``."""
    before = list(incident.issue_keys or [])
    keys = mapping.merge_keys(before, mapping.issue_keys(alert))
    if keys == before:
        return False
    incident.issue_keys = keys
    added = [k for k in keys if k not in before]
    if added and not quiet:
        timeline.issues_linked(session, incident, added, f"alert “{alert.message}”", "alert")
    return True


def open_incident(
    session: Session,
    workspace: Workspace,
    *,
    summary: str,
    rule: RuleSpec | None = None,
    created_by: str = "promotion",
    severity: str | None = None,
    resolve_policy: ResolvePolicy | None = None,
    description: str | None = None,
) -> Incident:
    incident = Incident(
        workspace_id=workspace.id,
        summary=clip(summary.strip() or "Incident", MAX_SUMMARY),
        description=description,
        status=IncidentStatus.OPEN,
        severity=severity,
        rule_id=rule.rule_id if rule else None,
        rule_name=rule.name if rule else None,
        resolve_policy=(
            resolve_policy
            or (rule.resolve_policy if rule else None)
            or ResolvePolicy.LAST_ALERT_CLOSED
        ),
        issue_keys=[],
        created_by=created_by,
    )
    session.add(incident)
    session.flush()
    return incident


def handle_alert(
    session: Session,
    alert: AlertFacts,
    *,
    now: datetime | None = None,
    budget: Budget | None = None,
    batch: BatchIncidents | None = None,
) -> Incident | None:
    """Bring incidents up to date after ``alert`` changed; returns its incident, if any.

    ``budget``: the alert's pattern budget, shared by rule filters and component mappings.
    ``batch``: what the transaction's batch of alert changes read of its alerts' incidents.
    """
    now = now or utcnow()
    budget = budget if budget is not None else Budget()
    batch = batch if batch is not None else BatchIncidents()
    existing = batch.incident_of(session, alert.id)
    if existing is not None:
        batch.drop_candidate(session, alert.id)
        before = existing.severity
        changed = _raise_severity(existing, alert)
        if changed:
            timeline.severity_changed(
                session, existing, before, f"raised by alert “{alert.message}”", actor="alert"
            )
        changed = _merge_issue_keys(session, existing, alert) or changed
        if changed:
            batch.tail.news(existing.id)  # entries recorded beside the alert's own
        timeline.alert_changed(session, existing, alert, batch.tail)
        if (
            not alert.open
            and existing.status is IncidentStatus.OPEN
            and _maybe_resolve(session, existing, closed_alert_id=alert.id)
        ):
            changed = True
            batch.tail.news(existing.id)
            batch.resolved()
        if changed:
            batch.publish(session, existing)
        return existing
    if not alert.open:
        batch.drop_candidate(session, alert.id)
        return None
    rules = batch.remember(
        ("rules", alert.workspace_id), lambda: rule_specs(session, alert.workspace_id)
    )

    def parse(condition: Mapping[str, Any]) -> filters.Filter:
        # Once per batch, not per change: finding a saved filter's parsed form costs a
        # serialisation of it, outside the pattern budget. The batch keeps the rules, so the
        # mapping an id names stays the same while the batch lasts.
        return batch.remember(
            ("filter", id(condition)), lambda: filter_schemas.stored_filter(condition)
        )

    decision = decide(
        alert,
        rules,
        now,
        matches=lambda condition, facts: filter_matches(condition, facts, budget, parse),
    )
    if decision.verdict is Verdict.NEVER:
        batch.drop_candidate(session, alert.id)
        return None
    workspace = batch.remember(
        ("workspace", alert.workspace_id), lambda: session.get_one(Workspace, alert.workspace_id)
    )
    component_ids = resolve_components(session, workspace, alert, budget, batch)
    unlocked = [c for c in component_ids if c not in batch.locked_components]
    components.lock(session, unlocked)
    batch.locked_components.update(unlocked)
    incident = batch.collecting(component_ids, lambda: collecting_incident(session, component_ids))
    if incident is None and decision.verdict is Verdict.WAIT:
        if decision.due_at is not None:
            batch.set_candidate(session, alert.id, alert.workspace_id, decision.due_at)
        else:
            batch.drop_candidate(session, alert.id)
        return None
    opened = incident is None
    if incident is None:
        incident = open_incident(session, workspace, summary=alert.message, rule=decision.rule)
        logger.info(
            "incident opened incident=%s alert=%s reason=%s",
            incident.public_id,
            alert.public_id,
            decision.reason,
        )
    batch.drop_candidate(session, alert.id)
    present = batch.components_of(
        incident.id, lambda: set() if opened else components_of(session, incident)
    )
    attach(session, incident, alert, component_ids, opened=opened, tail=batch.tail, present=present)
    batch.joined(alert.id, incident, component_ids)
    batch.publish(session, incident)
    return incident


def _maybe_resolve(session: Session, incident: Incident, *, closed_alert_id: int) -> bool:
    policy = incident.resolve_policy
    if policy is ResolvePolicy.MANUAL:
        return False
    if policy is ResolvePolicy.LAST_ALERT_CLOSED:
        alert_ids = list(
            session.scalars(
                select(IncidentAlert.alert_id).where(IncidentAlert.incident_id == incident.id)
            )
        )
        if alert_source.any_open(session, alert_ids):
            return False
    resolve(session, incident)
    cause = (
        "its last alert closed" if policy is ResolvePolicy.LAST_ALERT_CLOSED else "an alert closed"
    )
    timeline.resolved(session, incident, cause, actor="alert")
    return True


def resolve(session: Session, incident: Incident) -> None:
    """Mark the incident resolved; its components collect new alerts into a new incident."""
    if incident.status is IncidentStatus.RESOLVED:
        return
    incident.status = IncidentStatus.RESOLVED
    incident.resolved_at = utcnow()
    session.execute(
        update(IncidentComponent)
        .where(IncidentComponent.incident_id == incident.id)
        .values(collecting=False)
    )
    logger.info("incident resolved incident=%s", incident.public_id)


# ── the worker's tick ──────────────────────────────────────────────────────────────────────────


def promote_due(session_factory: sessionmaker[Session], *, now: datetime | None = None) -> int:
    """Promote alerts whose time threshold has passed; returns how many joined an incident.

    One transaction per batch; on PostgreSQL several workers share the work (SKIP LOCKED).
    """
    done = 0
    while True:
        moment = now or utcnow()
        with session_factory() as session:
            stmt = (
                select(PromotionCandidate)
                .where(PromotionCandidate.due_at <= moment)
                .order_by(PromotionCandidate.due_at)
                .limit(DUE_BATCH)
            )
            if session.get_bind().dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            due = list(session.scalars(stmt))
            if not due:
                return done
            for candidate in due:
                facts = alert_source.facts_by_id(session, candidate.alert_id)
                if facts is None:
                    session.delete(candidate)
                    continue
                if handle_alert(session, facts, now=moment) is not None:
                    done += 1
                else:
                    # Still waiting (e.g. acknowledged meanwhile): no longer due by time alone.
                    session.execute(
                        delete(PromotionCandidate).where(
                            PromotionCandidate.alert_id == candidate.alert_id,
                            PromotionCandidate.due_at <= moment,
                        )
                    )
            session.commit()
            if len(due) < DUE_BATCH:
                return done
