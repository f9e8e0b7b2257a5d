"""Alerts, their asynchronous write requests, their append-only logs and their notes."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any
from typing import Protocol

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
from provider.ops.priority import Priority as Priority  # the alert modules import it with the model

# The predicate of the partial unique index that makes de-duplication exact. Written as literal SQL
# (not a bound parameter) so PostgreSQL can infer the index for ON CONFLICT.
OPEN_PREDICATE = "status = 'open'"


class AlertStatus(enum.StrEnum):
    """Stored state; the JSM ``status`` (open/acked/snoozed/closed) is derived on output."""

    OPEN = "open"
    CLOSED = "closed"


class AlertAction(enum.StrEnum):
    """What a request asks for; the ``action`` of the request status (JSM's CamelCase forms)."""

    CREATE = "Create"
    ACKNOWLEDGE = "Acknowledge"
    UNACKNOWLEDGE = "UnAcknowledge"
    CLOSE = "Close"
    DELETE = "Delete"
    ASSIGN = "AssignOwnership"
    ADD_RESPONDER = "AddResponder"
    ADD_EXTRA_PROPERTIES = "AddExtraProperties"
    DELETE_EXTRA_PROPERTIES = "DeleteExtraProperties"
    ADD_TAGS = "AddTags"
    REMOVE_TAGS = "RemoveTags"
    ESCALATE = "Escalate"
    EXECUTE_ACTION = "ExecuteAction"
    SNOOZE = "Snooze"
    ADD_NOTE = "AddNote"
    UPDATE_NOTE = "UpdateNote"
    DELETE_NOTE = "DeleteNote"
    UPDATE_PRIORITY = "UpdatePriority"
    UPDATE_MESSAGE = "UpdateMessage"
    UPDATE_DESCRIPTION = "UpdateDescription"


class AlertEvent(enum.StrEnum):
    """What happened to an alert: the ``action`` of its log entries and of alert hooks."""

    CREATED = "created"
    DEDUPLICATED = "deduplicated"
    TRUNCATED = "truncated"
    ACKNOWLEDGED = "acknowledged"
    UNACKNOWLEDGED = "unacknowledged"
    CLOSED = "closed"
    DELETED = "deleted"
    ASSIGNED = "assigned"
    RESPONDER_ADDED = "responder_added"
    EXTRA_PROPERTIES_ADDED = "extra_properties_added"
    EXTRA_PROPERTIES_REMOVED = "extra_properties_removed"
    TAGS_ADDED = "tags_added"
    TAGS_REMOVED = "tags_removed"
    ESCALATED = "escalated"
    ACTION_EXECUTED = "action_executed"
    SNOOZED = "snoozed"
    NOTE_ADDED = "note_added"
    NOTE_UPDATED = "note_updated"
    NOTE_DELETED = "note_deleted"
    PRIORITY_CHANGED = "priority_changed"
    MESSAGE_CHANGED = "message_changed"
    DESCRIPTION_CHANGED = "description_changed"


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        # At most one open alert per alias in a workspace: the database, not the code, keeps
        # de-duplication exact when many processors insert the same alias at once.
        Index(
            "uq_alerts_open_alias",
            "workspace_id",
            "alias",
            unique=True,
            sqlite_where=text(OPEN_PREDICATE),
            postgresql_where=text(OPEN_PREDICATE),
        ),
        Index("ix_alerts_workspace_created", "workspace_id", "created_at", "id"),
        # Lists filtered by status (``status:open``) and their counts (migration 0017).
        Index("ix_alerts_workspace_status_created", "workspace_id", "status", "created_at", "id"),
        Index("ix_alerts_workspace_last_occurred", "workspace_id", "last_occurred_at", "id"),
        Index("ix_alerts_workspace_alias", "workspace_id", "alias"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_uuid]
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    alias: Mapped[str] = mapped_column(String(512))
    status: Mapped[AlertStatus] = mapped_column(
        value_enum(AlertStatus, 20), default=AlertStatus.OPEN
    )
    message: Mapped[str] = mapped_column(String(130))
    description: Mapped[str] = mapped_column(Text, default="")
    entity: Mapped[str] = mapped_column(String(512), default="")
    source: Mapped[str] = mapped_column(String(100), default="")
    priority: Mapped[Priority] = mapped_column(value_enum(Priority, 2), default=Priority.P3)
    owner: Mapped[str] = mapped_column(String(255), default="")
    acknowledged: Mapped[bool] = mapped_column(default=False)
    acknowledged_by: Mapped[str | None] = mapped_column(String(255))
    acknowledged_at: Mapped[datetime | None]
    snoozed: Mapped[bool] = mapped_column(default=False)
    snoozed_until: Mapped[datetime | None]
    seen: Mapped[bool] = mapped_column(default=False)
    count: Mapped[int] = mapped_column(default=1)
    tags: Mapped[list[str]] = mapped_column(default=list)
    extra_properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    responders: Mapped[list[Any]] = mapped_column(default=list)
    visible_to: Mapped[list[Any]] = mapped_column(default=list)
    actions: Mapped[list[str]] = mapped_column(default=list)
    # Integrations are another package's table; the alert keeps a copy of what it shows so the
    # integration can be deleted without rewriting history.
    integration_id: Mapped[str | None] = mapped_column(String(64))
    integration_name: Mapped[str] = mapped_column(String(255), default="Default API")
    integration_type: Mapped[str] = mapped_column(String(100), default="API")
    created_at: Mapped[created_now]
    updated_at: Mapped[updated_now]
    last_occurred_at: Mapped[created_now]
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(255))


class RequestState(enum.StrEnum):
    PENDING = "pending"
    PROCESSED = "processed"


class AlertRequest(Base):
    """One asynchronous write (create or action), durable before the API answers 202."""

    __tablename__ = "alert_requests"
    __table_args__ = (
        Index("ix_alert_requests_state_id", "state", "id"),
        Index("ix_alert_requests_state_workspace_id", "state", "workspace_id", "id"),
        Index("ix_alert_requests_workspace_alias", "workspace_id", "alias"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_uuid]
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    action: Mapped[AlertAction] = mapped_column(value_enum(AlertAction, 50))
    state: Mapped[RequestState] = mapped_column(
        value_enum(RequestState, 20), default=RequestState.PENDING
    )
    # Target of an action: "id" (alert public id), "tiny" or "alias"; for a create, the alias the
    # new alert will have.
    identifier: Mapped[str | None] = mapped_column(String(512))
    identifier_type: Mapped[str] = mapped_column(String(10), default="id")
    alias: Mapped[str | None] = mapped_column(String(512))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    actor: Mapped[str] = mapped_column(String(255), default="")
    integration_id: Mapped[str | None] = mapped_column(String(64))
    integration_name: Mapped[str | None] = mapped_column(String(255))
    integration_type: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[created_now]
    processed_at: Mapped[datetime | None]
    is_success: Mapped[bool | None]
    status_message: Mapped[str | None] = mapped_column(String(500))
    alert_public_id: Mapped[str | None] = mapped_column(String(64))


class PendingRequest(Protocol):
    """A request as processing reads it: an :class:`AlertRequest`, or its row as read by the
    processor (plain columns, no ORM state to build for a row that is only read)."""

    @property
    def id(self) -> int: ...
    @property
    def public_id(self) -> str: ...
    @property
    def workspace_id(self) -> int: ...
    @property
    def action(self) -> AlertAction: ...
    @property
    def identifier(self) -> str | None: ...
    @property
    def identifier_type(self) -> str: ...
    @property
    def alias(self) -> str | None: ...
    @property
    def payload(self) -> dict[str, Any]: ...
    @property
    def actor(self) -> str: ...
    @property
    def integration_id(self) -> str | None: ...
    @property
    def integration_name(self) -> str | None: ...
    @property
    def integration_type(self) -> str | None: ...
    @property
    def alert_public_id(self) -> str | None: ...


class AlertLog(Base):
    """Append-only history of an alert; rows are never updated."""

    __tablename__ = "alert_logs"

    id: Mapped[intpk]
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    action: Mapped[AlertEvent] = mapped_column(value_enum(AlertEvent, 50))
    message: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(255), default="")
    request_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[created_now]


class AlertNote(Base):
    __tablename__ = "alert_notes"

    id: Mapped[intpk]
    public_id: Mapped[public_uuid]
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    note: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[created_now]
    updated_at: Mapped[updated_now]
