"""Workspaces (the unit of ownership) and their links to Jira sites."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from provider.db import Base
from provider.db import created_now
from provider.db import intpk
from provider.db import new_public_id
from provider.db import updated_now


class Workspace(Base):
    __tablename__ = "workspaces"

    id: Mapped[intpk]
    public_id: Mapped[str] = mapped_column(String(64), unique=True, default=new_public_id)
    name: Mapped[str] = mapped_column(String(255))
    avatar_url: Mapped[str | None] = mapped_column(String(2000))
    api_key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    link_code_hash: Mapped[str] = mapped_column(String(64), unique=True)
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
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    linked_at: Mapped[created_now]
