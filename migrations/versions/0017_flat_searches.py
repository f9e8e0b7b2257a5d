"""searches that stay flat: indexes of component names for substrings and prefixes, alerts by status

searchContainers matches a substring of a component's name. PostgreSQL answers it from the
pg_trgm index of migration 0008; SQLite had only a scan of the workspace's components. An FTS5
table with the trigram tokenizer gives SQLite the same: the ids of the components whose name
holds every trigram of the query. It indexes ``components`` without a copy of the names
(external content) and triggers keep it in step with every insert, rename and delete, cascades
from a deleted workspace included.

Names that start with the query come first in searchContainers' answer; they are a range of
bytes, read in order up to the limit. SQLite's ``(workspace_id, name_lower, id)`` index compares
bytes already; PostgreSQL's compares by the database's collation, so a bytewise one is added.

Alert lists filtered by status (``status:open``, the common one) and their counts walk an index
of a workspace's alerts by status and creation instead of reading every alert of the workspace.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# An external-content FTS5 table must be told the old value to forget it, exactly as indexed.
_SQLITE_UP = (
    "CREATE VIRTUAL TABLE components_fts USING fts5("
    "name_lower, content='components', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER components_fts_insert AFTER INSERT ON components BEGIN"
    " INSERT INTO components_fts(rowid, name_lower) VALUES (new.id, new.name_lower); END",
    "CREATE TRIGGER components_fts_delete AFTER DELETE ON components BEGIN"
    " INSERT INTO components_fts(components_fts, rowid, name_lower)"
    " VALUES ('delete', old.id, old.name_lower); END",
    "CREATE TRIGGER components_fts_update AFTER UPDATE OF id, name_lower ON components BEGIN"
    " INSERT INTO components_fts(components_fts, rowid, name_lower)"
    " VALUES ('delete', old.id, old.name_lower);"
    " INSERT INTO components_fts(rowid, name_lower) VALUES (new.id, new.name_lower); END",
    "INSERT INTO components_fts(components_fts) VALUES ('rebuild')",
)
_SQLITE_DOWN = (
    "DROP TRIGGER components_fts_update",
    "DROP TRIGGER components_fts_delete",
    "DROP TRIGGER components_fts_insert",
    "DROP TABLE components_fts",
)


def upgrade() -> None:
    op.create_index(
        "ix_alerts_workspace_status_created",
        "alerts",
        ["workspace_id", "status", "created_at", "id"],
    )
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in _SQLITE_UP:
            op.execute(statement)
    elif dialect == "postgresql":
        op.execute(
            "CREATE INDEX ix_components_workspace_name_bytes ON components"
            ' (workspace_id, (name_lower COLLATE "C"), id)'
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in _SQLITE_DOWN:
            op.execute(statement)
    elif dialect == "postgresql":
        op.execute("DROP INDEX ix_components_workspace_name_bytes")
    op.drop_index("ix_alerts_workspace_status_created", table_name="alerts")
