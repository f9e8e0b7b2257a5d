"""Components (a workspace's services) and their associations with Jira projects."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from provider.db import Base
from provider.db import created_now
from provider.db import intpk
from provider.db import updated_now
from provider.ops.owned import WorkspaceOwned
from provider.times import utcnow


class Tier(enum.StrEnum):
    TIER_1 = "Tier 1"
    TIER_2 = "Tier 2"
    TIER_3 = "Tier 3"
    TIER_4 = "Tier 4"


class ComponentType(enum.StrEnum):
    SERVICE = "Service"
    APPLICATION = "Application"
    LIBRARY = "Library"
    CAPABILITY = "Capability"
    CLOUD_RESOURCE = "Cloud resource"
    DATA_PIPELINE = "Data pipeline"
    MACHINE_LEARNING_MODEL = "Machine learning model"
    UI_ELEMENT = "UI element"
    WEBSITE = "Website"
    OTHER = "Other"


class Component(WorkspaceOwned, Base):
    """A service of a workspace; becomes a DevOps component (a "container") in Jira."""

    __tablename__ = "components"
    __table_args__ = (
        UniqueConstraint("workspace_id", "name"),
        # A workspace's components in name order (searchContainers' empty query, listings);
        # on PostgreSQL a trigram index serves substring searches (migration 0008).
        Index("ix_components_workspace_name", "workspace_id", "name_lower", "id"),
    )

    name: Mapped[str] = mapped_column(String(255))
    # Lower-cased name, indexed, so searchContainers stays an index lookup as the table grows.
    name_lower: Mapped[str] = mapped_column(String(255), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str | None] = mapped_column(String(2000))
    avatar_url: Mapped[str | None] = mapped_column(String(2000))
    tier: Mapped[Tier] = mapped_column(default=Tier.TIER_3)
    component_type: Mapped[ComponentType] = mapped_column(default=ComponentType.SERVICE)
    # Fallback component of a workspace: incidents with no mapped component land here.
    is_fallback: Mapped[bool] = mapped_column(default=False)
    update_sequence_number: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[created_now]
    updated_at: Mapped[updated_now]


class ComponentAssociation(Base):
    """A component connected to a Jira entity (normally a project) of one site."""

    __tablename__ = "component_associations"
    __table_args__ = (
        UniqueConstraint(
            "installation_id",
            "component_id",
            "ati",
            "entity_id",
            name="uq_component_associations_target",
        ),
    )

    id: Mapped[intpk]
    installation_id: Mapped[int] = mapped_column(
        ForeignKey("installations.id", ondelete="CASCADE"), index=True
    )
    component_id: Mapped[int] = mapped_column(
        ForeignKey("components.id", ondelete="CASCADE"), index=True
    )
    ati: Mapped[str] = mapped_column(String(255))
    ari: Mapped[str] = mapped_column(String(1000))
    cloud_id: Mapped[str] = mapped_column(String(255))
    # The Jira entity's id: the project id for a project association.
    entity_id: Mapped[str] = mapped_column(String(255))
    associated_at: Mapped[datetime] = mapped_column(default=utcnow)
    associated_by: Mapped[str | None] = mapped_column(String(255))
