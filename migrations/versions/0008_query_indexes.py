"""indexes for the hot queries: the outbox claim, component search and listing

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
    op.create_index(
        "ix_components_workspace_name", "components", ["workspace_id", "name_lower", "id"]
    )
    if op.get_bind().dialect.name == "postgresql":
        # searchContainers matches a substring of the name: a trigram index serves it without
        # reading every component. pg_trgm is a trusted extension (PostgreSQL 13+), so the
        # database owner may create it; it goes to public so that it outlives any one schema.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
        op.execute(
            "CREATE INDEX ix_components_name_trgm ON components"
            " USING gin (name_lower public.gin_trgm_ops)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_components_name_trgm")
    op.drop_index("ix_components_workspace_name", table_name="components")
    op.drop_index("ix_outbox_messages_queue", table_name="outbox_messages")
