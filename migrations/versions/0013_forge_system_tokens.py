"""Forge: each installation's latest app system token, and how the app calls its site

An installation keeps calling Jira with Connect JWTs (``jira_auth`` 'connect') until an operator
switches it to the Forge token. Installations are looked up by Forge installation id when a
Forge Invocation Token arrives.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import provider.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("installations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "jira_auth",
                sa.Enum("connect", "forge", name="jiraauth", native_enum=False),
                server_default="connect",
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("forge_system_token_encrypted", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("forge_api_base_url", sa.String(length=2000), nullable=True))
        batch_op.add_column(
            sa.Column(
                "forge_token_expires_at", provider.db.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column(
                "forge_token_received_at", provider.db.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.create_index(
            batch_op.f("ix_installations_forge_installation_id"),
            ["forge_installation_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("installations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_installations_forge_installation_id"))
        batch_op.drop_column("forge_token_received_at")
        batch_op.drop_column("forge_token_expires_at")
        batch_op.drop_column("forge_api_base_url")
        batch_op.drop_column("forge_system_token_encrypted")
        batch_op.drop_column("jira_auth")
