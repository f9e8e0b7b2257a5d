"""Workspaces (the unit of ownership) and their links to Jira sites."""

from __future__ import annotations

from datetime import datetime

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
from provider.ops.owned import workspace_fk


class Workspace(Base):
    __tablename__ = "workspaces"

    id: Mapped[intpk]
    public_id: Mapped[public_uuid]
    name: Mapped[str] = mapped_column(String(255))
    avatar_url: Mapped[str | None] = mapped_column(String(2000))
    api_key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[created_now]
    updated_at: Mapped[updated_now]
    key_rotated_at: Mapped[datetime | None]


class WorkspaceLink(Base):
    """A workspace shown in a Jira site; made only with proof of ownership of the workspace."""

    __tablename__ = "workspace_links"
    __table_args__ = (UniqueConstraint("installation_id", "workspace_id"),)

    id: Mapped[intpk]
    installation_id: Mapped[int] = mapped_column(
        ForeignKey("installations.id", ondelete="CASCADE"), index=True
    )
    workspace_id: Mapped[workspace_fk]
    linked_at: Mapped[created_now]
    # The code that proved ownership (None: the workspace key, or created inside this site), so
    # a key rotation can revoke what the codes handed out before it opened.
    link_code_id: Mapped[int | None] = mapped_column(
        ForeignKey("link_codes.id", ondelete="SET NULL")
    )
    linked_by: Mapped[str] = mapped_column(String(255), default="")


class LinkCode(Base):
    """A one-time proof of ownership of a workspace, for linking it to one Jira site.

    Stored hashed; valid until it is used, revoked (a new code or a key rotation) or expired.
    """

    __tablename__ = "link_codes"

    id: Mapped[intpk]
    workspace_id: Mapped[workspace_fk]
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[created_now]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by_installation_id: Mapped[int | None] = mapped_column(
        ForeignKey("installations.id", ondelete="SET NULL")
    )
    revoked_at: Mapped[datetime | None]


class AuditEvent(Base):
    """Who changed a workspace's links, keys or integrations, when, and from which site."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_workspace_at", "workspace_id", "at"),)

    id: Mapped[intpk]
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    at: Mapped[created_now]
    action: Mapped[str] = mapped_column(String(50))
    actor: Mapped[str] = mapped_column(String(255))
    # The site the change came from (or concerned), kept as text: it outlives the installation.
    client_key: Mapped[str | None] = mapped_column(String(255))
    detail: Mapped[str] = mapped_column(String(1000), default="")
