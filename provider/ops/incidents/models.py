"""Incidents, their alerts and components, promotion and mapping rules, and reviews."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from provider.db import Base
from provider.db import created_now
from provider.db import intpk
from provider.db import public_uuid
from provider.db import updated_now
from provider.db import value_enum
from provider.ops.incidents.mapping import MatchType
from provider.ops.incidents.rules import ResolvePolicy
from provider.ops.incidents.rules import RuleAction
from provider.ops.owned import WorkspaceOwned


class IncidentRule(WorkspaceOwned, Base):
    """An ordered promotion rule of a workspace (see ``incidents.rules``)."""

    __tablename__ = "incident_rules"

    position: Mapped[int] = mapped_column(default=0)
    name: Mapped[str] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(default=True)
    filter: Mapped[dict[str, Any]] = mapped_column(default=dict)
    min_priority: Mapped[str] = mapped_column(String(2), default="P5")
    count_threshold: Mapped[int | None]
    unacknowledged_seconds: Mapped[int | None]
    action: Mapped[RuleAction] = mapped_column(
        value_enum(RuleAction, 20), default=RuleAction.PROMOTE
    )
    resolve_policy: Mapped[ResolvePolicy] = mapped_column(
        value_enum(ResolvePolicy, 20), default=ResolvePolicy.LAST_ALERT_CLOSED
    )
    created_at: Mapped[created_now]
    updated_at: Mapped[updated_now]


class ComponentMapping(WorkspaceOwned, Base):
    """An ordered rule naming the component of the alerts it matches."""

    __tablename__ = "component_mappings"

    position: Mapped[int] = mapped_column(default=0)
    match_type: Mapped[MatchType] = mapped_column(value_enum(MatchType, 20))
    key: Mapped[str | None] = mapped_column(String(255))
    value: Mapped[str] = mapped_column(String(1000))
    component_id: Mapped[int] = mapped_column(
        ForeignKey("components.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[created_now]
    updated_at: Mapped[updated_now]


class IncidentStatus(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class Incident(WorkspaceOwned, Base):
    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_workspace_status", "workspace_id", "status", "id"),)

    # Its index is the one above, which the workspace's listings use.
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    summary: Mapped[str] = mapped_column(String(255))
    # None: generated from the incident's alerts on every change; set: written by a person.
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[IncidentStatus] = mapped_column(
        value_enum(IncidentStatus, 20), default=IncidentStatus.OPEN
    )
    severity: Mapped[str | None] = mapped_column(String(2))
    # The alert whose priority last raised the severity (severity only ever rises).
    severity_alert_id: Mapped[int | None] = mapped_column(
        ForeignKey("alerts.id", ondelete="SET NULL")
    )
    severity_raised_at: Mapped[datetime | None]
    rule_id: Mapped[int | None] = mapped_column(
        ForeignKey("incident_rules.id", ondelete="SET NULL")
    )
    rule_name: Mapped[str | None] = mapped_column(String(255))
    resolve_policy: Mapped[ResolvePolicy] = mapped_column(
        value_enum(ResolvePolicy, 20), default=ResolvePolicy.LAST_ALERT_CLOSED
    )
    issue_keys: Mapped[list[str]] = mapped_column(default=list)
    created_by: Mapped[str] = mapped_column(String(255), default="promotion")
    created_at: Mapped[created_now]
    updated_at: Mapped[updated_now]
    resolved_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    update_sequence_number: Mapped[int] = mapped_column(BigInteger, default=0)


class IncidentComponent(Base):
    """A component an incident affects.

    ``collecting`` marks the one open incident that new alerts on this component join; the partial
    unique index makes a second one impossible even if two promotions race.
    """

    __tablename__ = "incident_components"
    __table_args__ = (
        Index(
            "uq_incident_components_collecting",
            "component_id",
            unique=True,
            sqlite_where=text("collecting"),
            postgresql_where=text("collecting"),
        ),
    )

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    component_id: Mapped[int] = mapped_column(
        ForeignKey("components.id", ondelete="CASCADE"), primary_key=True
    )
    collecting: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)


class IncidentAlert(Base):
    """An alert that is part of an incident (an alert belongs to at most one)."""

    __tablename__ = "incident_alerts"

    alert_id: Mapped[int] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True
    )
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    added_at: Mapped[created_now]


class PromotionCandidate(Base):
    """An alert waiting for a time threshold; the worker's tick promotes it when due."""

    __tablename__ = "promotion_candidates"

    alert_id: Mapped[int] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True
    )
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    due_at: Mapped[datetime] = mapped_column(index=True)


class ReviewStatus(enum.StrEnum):
    IN_PROGRESS = "in progress"
    OUTSTANDING_ACTIONS = "outstanding actions"
    COMPLETED = "completed"


class Review(WorkspaceOwned, Base):
    """A post-incident review of one or more incidents of a workspace."""

    __tablename__ = "reviews"

    summary: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[ReviewStatus] = mapped_column(
        value_enum(ReviewStatus, 30), default=ReviewStatus.IN_PROGRESS
    )
    created_by: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[created_now]
    updated_at: Mapped[updated_now]
    update_sequence_number: Mapped[int] = mapped_column(BigInteger, default=0)


class ReviewIncident(Base):
    __tablename__ = "review_incidents"

    review_id: Mapped[int] = mapped_column(
        ForeignKey("reviews.id", ondelete="CASCADE"), primary_key=True
    )
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(default=0)


class EventKind(enum.StrEnum):
    """What can happen to an incident, as its timeline tells it."""

    OPENED = "opened"
    ALERT_ADDED = "alert_added"
    ALERT_REPEATED = "alert_repeated"
    ALERT_CLOSED = "alert_closed"
    ACKNOWLEDGED = "acknowledged"
    NOTE = "note"
    SEVERITY = "severity"
    RESOLVED = "resolved"
    ISSUE_LINKED = "issue_linked"
    ISSUE_UNLINKED = "issue_unlinked"
    ISSUE_EVENT = "issue_event"
    DELIVERY = "delivery"
    REVIEW = "review"


#: The entries that are news on a timeline: all but an alert firing again (SQL, for the partial
#: index and the queries it serves, which must spell it the same way).
NEWS_PREDICATE = "kind <> 'alert_repeated'"


class IncidentEvent(Base):
    """One entry of an incident's timeline.

    ``detail`` holds what the entry needs beyond its text (the alert's count, the old and new
    severity, the Jira site and outcome of a delivery); ``actor`` says who did it: a responder
    on the incident's page, the API, an alert, or Jira.
    """

    __tablename__ = "incident_events"
    __table_args__ = (
        Index("ix_incident_events_incident", "incident_id", "id"),
        # An alert's latest entry, and an incident's newest entry that is news (see the
        # timeline's repeats), each one index range rather than a walk of the incident's entries.
        Index("ix_incident_events_alert", "alert_id", "id"),
        Index(
            "ix_incident_events_news",
            "incident_id",
            "id",
            sqlite_where=text(NEWS_PREDICATE),
            postgresql_where=text(NEWS_PREDICATE),
        ),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_uuid]
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    kind: Mapped[EventKind] = mapped_column(value_enum(EventKind, 30))
    text: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(255), default="")
    # The alert an alert entry is about, so its repeats update one entry instead of adding more.
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="SET NULL"))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[created_now]


class IssueSyncSettings(Base):
    """How a workspace's incidents keep their linked Jira issues in step.

    ``transitions`` names, per incident event (``opened``, ``severity``, ``resolved``), the Jira
    transition (or target status) to apply to each linked issue; an event without one only
    comments. ``resolve_on_issue_done`` lets a linked issue resolved in Jira resolve the incident.
    """

    __tablename__ = "issue_sync_settings"

    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    comment: Mapped[bool] = mapped_column(default=True)
    transitions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    resolve_on_issue_done: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[updated_now]
