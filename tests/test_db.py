"""Engines and sessions: pooled PostgreSQL connections that die, read-only sessions."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import sessionmaker

from provider import db
from provider.connect.models import Installation
from provider.db import make_engine
from tests.databases import Databases


def _cut_pooled_connection(url: str, engine: sa.Engine) -> None:
    """Kill the server side of the pool's one connection from outside (a restart, a proxy cut)."""
    with engine.connect() as conn:
        pid = int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
    killer = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with killer.connect() as conn:
        assert conn.exec_driver_sql(f"SELECT pg_terminate_backend({pid})").scalar_one()
    killer.dispose()


@pytest.fixture
def pg_url(databases: Databases) -> str:
    if databases.backend != "postgresql":
        pytest.skip("PostgreSQL connection handling (set TEST_DATABASE_URL)")
    assert databases.server_url is not None
    return databases.server_url


def test_idle_connection_cut_by_the_server_is_replaced_before_use(pg_url: str) -> None:
    engine = make_engine(pg_url, pool_size=1, max_overflow=0)
    _cut_pooled_connection(pg_url, engine)
    time.sleep(db.PING_AFTER_IDLE_SECONDS + 0.2)
    with engine.connect() as conn:  # pinged, found dead, replaced: the caller never sees it
        assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1
    engine.dispose()


def test_busy_connection_cut_fails_once_then_the_pool_recovers(pg_url: str) -> None:
    engine = make_engine(pg_url, pool_size=1, max_overflow=0)
    _cut_pooled_connection(pg_url, engine)
    # checked out again at once: not pinged (it was idle for less than the threshold) ...
    with pytest.raises(sa.exc.OperationalError), engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
    # ... its failure invalidated the pool, and the next checkout connects afresh
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1
    engine.dispose()


def test_read_only_view_refuses_to_write(database_url: str) -> None:
    app = Flask(__name__)
    db.init_app(app, sessionmaker(bind=make_engine(database_url), expire_on_commit=False))

    @db.read_only
    def view() -> None:
        session = db.get_session()
        session.add(
            Installation(
                client_key="ck", base_url="https://x.atlassian.net", shared_secret_encrypted="s"
            )
        )
        session.flush()

    with app.test_request_context("/"), pytest.raises(RuntimeError, match="read_only"):
        view()
    with app.test_request_context("/"):
        assert db.get_session().scalars(sa.select(Installation)).all() == []


def test_read_only_view_reads(database_url: str) -> None:
    app = Flask(__name__)
    db.init_app(app, sessionmaker(bind=make_engine(database_url), expire_on_commit=False))

    @db.read_only
    def view() -> int:
        return int(db.get_session().execute(sa.select(sa.literal(7))).scalar_one())

    with app.test_request_context("/"):
        assert view() == 7
