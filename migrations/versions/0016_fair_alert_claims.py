"""Pending alert requests by workspace, for claims that take turns between workspaces

The worker takes the oldest pending requests of each workspace in turn; this index answers
"which workspaces have pending requests" and "a workspace's oldest pending ones" without reading
every pending row.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alert_requests", schema=None) as batch_op:
        batch_op.create_index(
            "ix_alert_requests_state_workspace_id", ["state", "workspace_id", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("alert_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_requests_state_workspace_id")
