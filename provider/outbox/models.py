"""Outbox messages: one row per pending push, written in the same transaction as the change."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

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
from provider.db import updated_now


class MessageStatus(enum.StrEnum):
    PENDING = "pending"  # waiting to be sent (possibly not before next_attempt_at)
    SENDING = "sending"  # claimed by a worker; a crashed worker's claim expires (claimed_until)
    FAILED = "failed"  # Jira rejected this entity; kept with Jira's message, not retried blindly
    DEAD = "dead"  # retries exhausted; re-queued only by hand


class OutboxMessage(Base):
    """A push of one entity to one destination.

    ``kind`` names the entity family (``component``, ``incident``, ``review``,
    ``linked_workspace``, ``webhook``), ``operation`` what to do with it (``submit``, ``delete``).
    At most one *pending* message exists per (installation, kind, entity): a newer change replaces
    the payload of an older one still waiting (coalescing), and a delete replaces a submit.
    ``group_key`` is the request-level grouping (the workspace id, sent as
    ``properties.workspaceId``): entities of one bulk request must share it.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index(
            "uq_outbox_messages_pending_entity",
            "installation_id",
            "kind",
            "entity_id",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_outbox_messages_claim", "status", "next_attempt_at"),
        # The claim's head query: the oldest pending message of one kind.
        Index("ix_outbox_messages_queue", "status", "kind", "id"),
        Index("ix_outbox_messages_installation_status", "installation_id", "status"),
        # Sibling lookups (is this entity in flight? superseded?) in every status.
        Index("ix_outbox_messages_entity", "kind", "entity_id", "installation_id"),
    )

    id: Mapped[intpk]
    installation_id: Mapped[int | None] = mapped_column(
        ForeignKey("installations.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(50))
    operation: Mapped[str] = mapped_column(String(20))
    entity_id: Mapped[str] = mapped_column(String(255))
    group_key: Mapped[str] = mapped_column(String(255), default="")
    payload: Mapped[dict[str, Any]]
    status: Mapped[MessageStatus] = mapped_column(String(20), default=MessageStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    claimed_until: Mapped[datetime | None]
    # The lease holder: results are recorded only by the batch that still holds the claim, so a
    # worker whose lease expired (and whose rows another worker re-sent) changes nothing.
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[created_now]
    updated_at: Mapped[updated_now]


class DeliveryState(Base):
    """Per-installation delivery state: throttling, last success and what Jira did not know.

    ``not_before`` holds back every request to this installation (429/503 with or without
    ``Retry-After``) while other installations keep flowing; ``throttle_count`` drives the
    exponential backoff when Jira gives no ``Retry-After``.

    The rest paces the site and keeps its points budget (``provider.outbox.budget``):
    ``pace_at`` is when the next request is due at a steady rate (changes arriving earlier wait
    and go out together), and the ``points_*`` columns hold what Jira's rate-limit headers last
    said about the hourly quota, counted down locally between answers. While
    ``points_low_until`` lies ahead, only incidents (and links) are sent.
    """

    __tablename__ = "delivery_states"

    id: Mapped[intpk]
    installation_id: Mapped[int] = mapped_column(
        ForeignKey("installations.id", ondelete="CASCADE"), unique=True
    )
    not_before: Mapped[datetime | None]
    throttle_count: Mapped[int] = mapped_column(default=0)
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    unknown_project_keys: Mapped[list[str]] = mapped_column(default=list)
    pace_at: Mapped[datetime | None]
    last_request_at: Mapped[datetime | None]
    requests_total: Mapped[int] = mapped_column(default=0)
    throttled_total: Mapped[int] = mapped_column(default=0)
    points_quota: Mapped[int | None]
    points_window_seconds: Mapped[int | None]
    points_remaining: Mapped[int | None]
    points_spent: Mapped[int] = mapped_column(default=0)
    points_reset_at: Mapped[datetime | None]
    points_low_until: Mapped[datetime | None]
    rate_limit_reason: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[updated_now]
