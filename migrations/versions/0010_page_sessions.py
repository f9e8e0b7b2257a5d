"""page sessions on the server; sign-in limits move to the rate limiter

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import provider.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "page_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("key_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("created_at", provider.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", provider.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_page_sessions_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_page_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_page_sessions_token_hash")),
    )
    with op.batch_alter_table("page_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_page_sessions_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_page_sessions_workspace_id"), ["workspace_id"], unique=False
        )

    with op.batch_alter_table("review_sign_in_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_sign_in_attempts_addr_at"))

    op.drop_table("review_sign_in_attempts")


def downgrade() -> None:
    op.create_table(
        "review_sign_in_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("remote_addr", sa.String(length=64), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("attempted_at", provider.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_sign_in_attempts")),
    )
    with op.batch_alter_table("review_sign_in_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_review_sign_in_attempts_addr_at"),
            ["remote_addr", "attempted_at"],
            unique=False,
        )

    with op.batch_alter_table("page_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_page_sessions_workspace_id"))
        batch_op.drop_index(batch_op.f("ix_page_sessions_expires_at"))

    op.drop_table("page_sessions")
