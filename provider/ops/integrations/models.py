"""Integrations (a workspace's named sources of alerts, each with its own key) and their actions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from provider.db import Base
from provider.db import created_now
from provider.db import intpk
from provider.db import public_uuid
from provider.db import updated_now
from provider.ops.owned import WorkspaceOwned


class Integration(WorkspaceOwned, Base):
    __tablename__ = "integrations"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    name: Mapped[str] = mapped_column(String(250))
    # "API", "Email", "Webhook", … — free text: the type only chooses default actions.
    type: Mapped[str] = mapped_column(String(50))
    enabled: Mapped[bool] = mapped_column(default=True)
    team_id: Mapped[str | None] = mapped_column(String(64))
    api_key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    allow_read_access: Mapped[bool] = mapped_column(default=True)
    allow_write_access: Mapped[bool] = mapped_column(default=True)
    allow_delete_access: Mapped[bool] = mapped_column(default=True)
    allow_configuration_access: Mapped[bool] = mapped_column(default=False)
    suppress_notifications: Mapped[bool] = mapped_column(default=False)
    # typeSpecificProperties other than the access flags, kept as given.
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    key_rotated_at: Mapped[datetime | None]
    created_at: Mapped[created_now]
    updated_at: Mapped[updated_now]


class IntegrationAction(Base):
    """One incoming (create/close/…/ignore) or outgoing (postToUrl) action of an integration.

    ``rank`` orders actions of the same type; reordering moves one action between two others
    by giving it a rank in between, so no other row is rewritten.
    """

    __tablename__ = "integration_actions"
    __table_args__ = (
        Index("ix_integration_actions_integration_direction", "integration_id", "direction"),
    )

    id: Mapped[intpk]
    public_id: Mapped[public_uuid]
    integration_id: Mapped[int] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(250))
    domain: Mapped[str] = mapped_column(String(20), default="alert")
    direction: Mapped[str] = mapped_column(String(20))
    group_type: Mapped[str] = mapped_column(String(20), default="")
    extra_field: Mapped[str] = mapped_column(String(500), default="")
    rank: Mapped[float] = mapped_column(Float, default=0.0)
    enabled: Mapped[bool] = mapped_column(default=True)
    filter: Mapped[dict[str, Any]] = mapped_column(default=dict)
    field_mappings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    type_specific_properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    action_mapping: Mapped[dict[str, Any] | None]
    created_at: Mapped[created_now]
    updated_at: Mapped[updated_now]
