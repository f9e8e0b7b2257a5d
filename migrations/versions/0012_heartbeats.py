"""heartbeats: expected pings, and the alias of the alert an expiry opened

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import provider.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "heartbeats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=64), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("interval", sa.Integer(), nullable=False),
        sa.Column(
            "interval_unit",
            sa.Enum("minutes", "hours", "days", name="intervalunit", native_enum=False, length=10),
            nullable=False,
        ),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("alert_message", sa.String(length=130), nullable=False),
        sa.Column(
            "alert_tags", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("alert_priority", sa.String(length=2), nullable=False),
        sa.Column("last_ping_at", provider.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", provider.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expired", sa.Boolean(), nullable=False),
        sa.Column("expiry_count", sa.Integer(), nullable=False),
        sa.Column("expiry_alias", sa.String(length=512), nullable=True),
        sa.Column("created_at", provider.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", provider.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_heartbeats_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_heartbeats")),
        sa.UniqueConstraint("public_id", name=op.f("uq_heartbeats_public_id")),
        sa.UniqueConstraint("workspace_id", "name", name=op.f("uq_heartbeats_workspace_id_name")),
    )
    with op.batch_alter_table("heartbeats", schema=None) as batch_op:
        batch_op.create_index(
            "ix_heartbeats_due", ["enabled", "expired", "expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_heartbeats_workspace_id"), ["workspace_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("heartbeats", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_heartbeats_workspace_id"))
        batch_op.drop_index("ix_heartbeats_due")

    op.drop_table("heartbeats")
