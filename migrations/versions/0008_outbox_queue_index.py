"""outbox queue index: the claim's head query walks (status, kind, id)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_outbox_messages_queue", "outbox_messages", ["status", "kind", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_messages_queue", table_name="outbox_messages")
