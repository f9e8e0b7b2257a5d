"""Migrations reach head on an empty database and agree with the models."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from provider import migrate
from provider.db import make_engine
from provider.models import include_object
from provider.models import metadata


def test_upgrade_empty_database_to_head(databases) -> None:  # type: ignore[no-untyped-def]
    url = databases.create(migrated=False)
    migrate.upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        assert migrate.current_revision(conn) == migrate.head_revision()
    engine.dispose()


def test_models_and_migrations_agree(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(
                conn, opts={"compare_type": True, "include_object": include_object}
            ),
            metadata,
        )
    engine.dispose()
    assert diff == [], f"models and migrations disagree: {diff}"


def test_newest_revision_downgrades_and_upgrades_again(databases) -> None:  # type: ignore[no-untyped-def]
    url = databases.create()
    cfg = migrate.alembic_config(url)
    command.downgrade(cfg, "-1")
    command.upgrade(cfg, "head")
    engine = make_engine(url)
    with engine.connect() as conn:
        assert migrate.current_revision(conn) == migrate.head_revision()
    engine.dispose()
