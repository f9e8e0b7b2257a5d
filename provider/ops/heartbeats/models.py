"""A heartbeat of a workspace: when it expects the next ping, and the alert of a missed one."""

from __future__ import annotations

import enum
from datetime import datetime
from datetime import timedelta

from sqlalchemy import Enum
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from provider.db import Base
from provider.db import created_now
from provider.db import updated_now
from provider.ops.owned import WorkspaceOwned


class IntervalUnit(enum.StrEnum):
    MINUTES = "minutes"
    HOURS = "hours"
    DAYS = "days"


class Heartbeat(WorkspaceOwned, Base):
    """Expected to be pinged every ``interval`` ``interval_unit`` while enabled.

    ``expires_at`` is when it expires without a ping (``None`` while disabled); ``expiry_alias``
    names the alert its current expiry opened, which the next ping closes.
    """

    __tablename__ = "heartbeats"
    __table_args__ = (
        UniqueConstraint("workspace_id", "name"),
        # The worker's question: which enabled, unexpired heartbeats are past due?
        Index("ix_heartbeats_due", "enabled", "expired", "expires_at"),
    )

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    interval: Mapped[int]
    interval_unit: Mapped[IntervalUnit] = mapped_column(
        Enum(
            IntervalUnit,
            native_enum=False,
            length=10,
            values_callable=lambda e: [m.value for m in e],
        )
    )
    enabled: Mapped[bool] = mapped_column(default=True)
    alert_message: Mapped[str] = mapped_column(String(130), default="")
    alert_tags: Mapped[list[str]] = mapped_column(default=list)
    alert_priority: Mapped[str] = mapped_column(String(2), default="P3")
    last_ping_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    expired: Mapped[bool] = mapped_column(default=False)
    expiry_count: Mapped[int] = mapped_column(default=0)
    expiry_alias: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[created_now]
    updated_at: Mapped[updated_now]

    @property
    def period(self) -> timedelta:
        return timedelta(**{str(self.interval_unit): self.interval})
