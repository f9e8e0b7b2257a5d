"""Alembic environment: the app's metadata, the URL from settings, safe locking on PostgreSQL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from provider.config import Settings
from provider.db import make_engine
from provider.models import include_object
from provider.models import metadata

config = context.config
target_metadata = metadata


def _process_revision_directives(ctx, revision, directives):  # type: ignore[no-untyped-def]
    # An autogenerate run that finds no change writes no empty revision file.
    if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
        directives[:] = []


def _configure(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        transaction_per_migration=True,
        compare_type=True,
        include_object=include_object,
        process_revision_directives=_process_revision_directives,
    )


def run_migrations_online() -> None:
    external = config.attributes.get("connection")
    if external is not None:
        # The caller owns the connection and its transaction (tests, the CLI); Alembic's
        # begin_transaction() is a no-op inside it, so no lock or commit here.
        _configure(external)
        context.run_migrations()
        return

    url = config.attributes.get("database_url") or Settings.from_env().database_url
    engine = make_engine(url)
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            # Several release processes may start at once; one migrates, the others wait.
            connection.execute(text("SET lock_timeout = '10s'"))
            connection.execute(text("SET statement_timeout = '5min'"))
            connection.execute(text("SELECT pg_advisory_lock(7290061)"))
            connection.commit()
        try:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_unlock(7290061)"))
                connection.commit()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")
run_migrations_online()
