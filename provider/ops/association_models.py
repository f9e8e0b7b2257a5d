"""Component ↔ Jira entity (project) associations, as Jira reports them through its actions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from provider.db import Base
from provider.db import intpk
from provider.times import utcnow


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
