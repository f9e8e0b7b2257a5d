from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from provider.app import create_app
from provider.config import Settings
from provider.db import make_engine
from provider.ops.sync.links import bind_links
from tests.databases import Databases

TEST_SECRET_KEY = "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
TEST_BASE_URL = "https://provider.example.com"


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    dbs = Databases(tmp_path_factory.mktemp("databases"))
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def database_url(databases: Databases) -> str:
    """One migrated database shared by the whole run; tests roll back what they write."""
    return databases.create()


@pytest.fixture
def fresh_database_url(databases: Databases) -> Iterator[str]:
    """A migrated database of the test's own, for servers and processes that commit for real."""
    url = databases.create()
    yield url
    databases.drop(url)


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "base_url": TEST_BASE_URL,
        "app_key": "ops-provider-test",
        "secret_key": TEST_SECRET_KEY,
        "install_keys_url": "https://install-keys.invalid",
        "allowed_jira_hosts": ("*.atlassian.net",),
        "log_level": "WARNING",
        "testing": True,
        "allow_private_outbound": True,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    # SQLAlchemy's "join the session into an external transaction" recipe: everything a test or
    # the app under test commits becomes a savepoint release, and the outer rollback undoes it.
    with engine.connect() as conn:
        outer = conn.begin()
        yield conn
        if outer.is_active:
            outer.rollback()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    return bind_links(factory, TEST_BASE_URL)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as s:
        yield s


@pytest.fixture
def app(settings: Settings, session_factory: sessionmaker[Session]) -> Flask:
    return create_app(settings, session_factory=session_factory, configure_logs=False)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
