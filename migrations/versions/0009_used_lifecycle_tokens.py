"""lifecycle tokens are single-use: remember the ones accepted until they expire

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import provider.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "used_lifecycle_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("client_key", sa.String(length=255), nullable=False),
        sa.Column("expires_at", provider.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_used_lifecycle_tokens")),
    )
    op.create_index(
        op.f("ix_used_lifecycle_tokens_expires_at"),
        "used_lifecycle_tokens",
        ["expires_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_used_lifecycle_tokens_expires_at"), table_name="used_lifecycle_tokens")
    op.drop_table("used_lifecycle_tokens")
