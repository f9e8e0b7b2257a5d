"""Fresh, migrated test databases on SQLite or PostgreSQL (``TEST_DATABASE_URL``).

On PostgreSQL each database is a schema of its own in the given database, selected through the
connection's ``search_path``, so several test runs (and subprocesses started by tests) can share
one server without seeing each other's rows.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa

from provider import migrate
from provider.config import normalize_database_url


class Databases:
    def __init__(self, tmp_dir: Path) -> None:
        raw = os.environ.get("TEST_DATABASE_URL", "").strip()
        self.server_url = normalize_database_url(raw) if raw else None
        self.tmp_dir = tmp_dir
        self._schemas: list[str] = []

    @property
    def backend(self) -> str:
        return "postgresql" if self.server_url else "sqlite"

    def create(self, *, migrated: bool = True) -> str:
        """Return the URL of a new, empty database, migrated to head unless asked otherwise."""
        if self.server_url is None:
            url = f"sqlite:///{self.tmp_dir / f'db-{uuid.uuid4().hex[:12]}.sqlite3'}"
        else:
            schema = f"t_{uuid.uuid4().hex[:16]}"
            engine = sa.create_engine(self.server_url)
            with engine.begin() as conn:
                conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            engine.dispose()
            self._schemas.append(schema)
            sep = "&" if "?" in self.server_url else "?"
            url = f"{self.server_url}{sep}options={quote(f'-csearch_path={schema}')}"
        if migrated:
            migrate.upgrade(url)
        return url

    def drop(self, url: str) -> None:
        """Drop one database made by :meth:`create` (SQLite files go with the temporary directory)."""
        if self.server_url is None:
            return
        schema = next((s for s in self._schemas if quote(f"-csearch_path={s}") in url), None)
        if schema is not None:
            self._drop_schemas([schema])

    def drop_all(self) -> None:
        self._drop_schemas(list(self._schemas))

    def _drop_schemas(self, schemas: list[str]) -> None:
        if self.server_url is None or not schemas:
            return
        engine = sa.create_engine(self.server_url)
        try:
            for schema in schemas:
                # One transaction per schema: dropping hundreds of schemas (each with its tables,
                # indexes and sequences) in a single transaction exhausts the server's lock table.
                with engine.begin() as conn:
                    conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
                self._schemas.remove(schema)
        finally:
            engine.dispose()
