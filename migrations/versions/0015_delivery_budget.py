"""Delivery pacing and Jira's points budget, per site

Each site's delivery state learns when its next request is due (changes arriving sooner are
sent together) and what Jira's rate-limit headers said about its hourly points quota.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import provider.db

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIMES = ("pace_at", "last_request_at", "points_reset_at", "points_low_until")
_COUNTS = ("requests_total", "throttled_total", "points_spent")
_NUMBERS = ("points_quota", "points_window_seconds", "points_remaining")


def upgrade() -> None:
    with op.batch_alter_table("delivery_states", schema=None) as batch_op:
        for name in _TIMES:
            batch_op.add_column(
                sa.Column(name, provider.db.UTCDateTime(timezone=True), nullable=True)
            )
        for name in _COUNTS:
            batch_op.add_column(sa.Column(name, sa.Integer(), server_default="0", nullable=False))
        for name in _NUMBERS:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("rate_limit_reason", sa.String(length=100), nullable=True))
    # The defaults only filled the existing rows; new rows get theirs from the model.
    with op.batch_alter_table("delivery_states", schema=None) as batch_op:
        for name in _COUNTS:
            batch_op.alter_column(name, server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("delivery_states", schema=None) as batch_op:
        for name in ("rate_limit_reason", *_NUMBERS, *_COUNTS, *_TIMES):
            batch_op.drop_column(name)
