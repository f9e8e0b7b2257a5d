"""incident timeline, acknowledgement, and how incidents keep their Jira issues in step

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import provider.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EVENT_KINDS = (
    "opened",
    "alert_added",
    "alert_repeated",
    "alert_closed",
    "acknowledged",
    "note",
    "severity",
    "resolved",
    "issue_linked",
    "issue_unlinked",
    "issue_event",
    "delivery",
    "review",
)


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("acknowledged_at", provider.db.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "incident_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=64), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(*EVENT_KINDS, name="eventkind", native_enum=False, length=30),
            nullable=False,
        ),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("detail", _json(), nullable=False),
        sa.Column("at", provider.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_incident_events_alert_id_alerts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_events_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_events")),
        sa.UniqueConstraint("public_id", name=op.f("uq_incident_events_public_id")),
    )
    with op.batch_alter_table("incident_events", schema=None) as batch_op:
        batch_op.create_index("ix_incident_events_incident", ["incident_id", "id"], unique=False)
    op.create_table(
        "issue_sync_settings",
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Boolean(), nullable=False),
        sa.Column("transitions", _json(), nullable=False),
        sa.Column("resolve_on_issue_done", sa.Boolean(), nullable=False),
        sa.Column("updated_at", provider.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_issue_sync_settings_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_issue_sync_settings")),
    )


def downgrade() -> None:
    op.drop_table("issue_sync_settings")
    with op.batch_alter_table("incident_events", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_events_incident")
    op.drop_table("incident_events")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_column("acknowledged_at")
