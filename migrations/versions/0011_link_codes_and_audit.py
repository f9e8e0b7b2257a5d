"""link codes are one-time and expire; an audit log of workspace changes

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from collections.abc import Sequence
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

import provider.db

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("at", provider.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("client_key", sa.String(length=255), nullable=True),
        sa.Column("detail", sa.String(length=1000), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_audit_events_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_audit_events_workspace_at", ["workspace_id", "at"], unique=False)

    op.create_table(
        "link_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("issued_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", provider.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", provider.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", provider.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("used_by_installation_id", sa.Integer(), nullable=True),
        sa.Column("revoked_at", provider.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["used_by_installation_id"],
            ["installations.id"],
            name=op.f("fk_link_codes_used_by_installation_id_installations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_link_codes_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_link_codes_code_hash")),
    )
    with op.batch_alter_table("link_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_link_codes_workspace_id"), ["workspace_id"], unique=False
        )

    with op.batch_alter_table("workspace_links", schema=None) as batch_op:
        batch_op.add_column(sa.Column("link_code_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("linked_by", sa.String(length=255), nullable=False, server_default="")
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_workspace_links_link_code_id_link_codes"),
            "link_codes",
            ["link_code_id"],
            ["id"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("workspace_links", schema=None) as batch_op:
        batch_op.alter_column("linked_by", server_default=None)

    # The permanent codes workspaces had become one-time codes that still work for a day, so a
    # deployment that upgrades does not break a link someone is about to make.
    workspaces = sa.table(
        "workspaces", sa.column("id", sa.Integer), sa.column("link_code_hash", sa.String)
    )
    link_codes = sa.table(
        "link_codes",
        sa.column("workspace_id", sa.Integer),
        sa.column("code_hash", sa.String),
        sa.column("issued_by", sa.String),
        sa.column("created_at", provider.db.UTCDateTime(timezone=True)),
        sa.column("expires_at", provider.db.UTCDateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    bind = op.get_bind()
    rows = [
        {
            "workspace_id": row.id,
            "code_hash": row.link_code_hash,
            "issued_by": "upgrade to one-time link codes",
            "created_at": now,
            "expires_at": now + timedelta(days=1),
        }
        for row in bind.execute(sa.select(workspaces.c.id, workspaces.c.link_code_hash))
    ]
    if rows:
        bind.execute(link_codes.insert(), rows)

    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_workspaces_link_code_hash"), type_="unique")
        batch_op.drop_column("link_code_hash")


def downgrade() -> None:
    # One-time codes cannot become permanent ones: every workspace gets an unusable hash and
    # needs a new code (`provider workspaces link-code`) after a downgrade.
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.add_column(sa.Column("link_code_hash", sa.String(length=64), nullable=True))
    op.execute("UPDATE workspaces SET link_code_hash = 'downgraded-' || public_id")
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.alter_column("link_code_hash", nullable=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_workspaces_link_code_hash"), ["link_code_hash"]
        )

    with op.batch_alter_table("workspace_links", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_workspace_links_link_code_id_link_codes"), type_="foreignkey"
        )
        batch_op.drop_column("linked_by")
        batch_op.drop_column("link_code_id")

    with op.batch_alter_table("link_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_link_codes_workspace_id"))

    op.drop_table("link_codes")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_workspace_at")

    op.drop_table("audit_events")
