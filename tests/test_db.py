"""Engines and sessions: pooled PostgreSQL connections that die, read-only sessions."""

from __future__ import annotations

import fcntl
import gc
import os
import threading
import time
from datetime import UTC
from datetime import datetime
from pathlib import Path

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


def test_read_connection_serves_a_read_only_view_and_goes_back_to_the_pool(
    database_url: str,
) -> None:
    app = Flask(__name__)
    engine = make_engine(database_url)
    db.init_app(app, sessionmaker(bind=engine, expire_on_commit=False))
    one = db.PlainSelect(sa.select(sa.literal(1).label("one")))

    @db.read_only
    def view() -> int:
        assert db.read_connection() is db.read_connection()  # one per request
        return int(one.rows(db.read_connection(), {})[0].one)

    with app.app_context(), app.test_request_context("/"):
        assert view() == 1
        assert engine.pool.checkedout() == 1
    assert engine.pool.checkedout() == 0
    with app.test_request_context("/"), pytest.raises(RuntimeError, match="read_only"):
        db.read_connection()  # a view that may write keeps to its session
    engine.dispose()


def test_plain_select_gives_the_rows_sqlalchemy_gives(database_url: str) -> None:
    engine = make_engine(database_url)
    installed = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    statement = (
        sa.select(Installation.client_key, Installation.installed_at, Installation.id)
        .where(Installation.client_key.like(sa.bindparam("prefix")))
        .order_by(Installation.client_key)
        .limit(10)
    )
    plain = db.PlainSelect(statement)
    with engine.connect() as conn, conn.begin() as transaction:
        for n in range(3):
            conn.execute(
                sa.insert(Installation).values(
                    client_key=f"plain-{n}",
                    base_url="https://x.atlassian.net",
                    shared_secret_encrypted="s",
                    installed_at=installed,
                )
            )
        expected = conn.execute(statement, {"prefix": "plain-%"}).all()
        rows = plain.rows(conn, {"prefix": "plain-%"})
        assert [tuple(r) for r in rows] == [tuple(r) for r in expected]
        assert rows[0].installed_at == installed  # aware UTC, as the column type gives it
        assert [r.client_key for r in plain.rows(conn, {"prefix": "plain-%"}, limit=2)] == [
            "plain-0",
            "plain-1",
        ]
        assert plain.rows(conn, {"prefix": "other-%"}) == []
        transaction.rollback()
    engine.dispose()


def test_plain_select_raises_sqlalchemy_errors(database_url: str) -> None:
    engine = make_engine(database_url)
    missing = sa.table("no_such_table", sa.column("n"))
    with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError):
        db.PlainSelect(sa.select(missing.c.n)).rows(conn, {})
    engine.dispose()


def test_plain_select_on_a_cut_connection_invalidates_it(pg_url: str) -> None:
    engine = make_engine(pg_url, pool_size=1, max_overflow=0)
    plain = db.PlainSelect(sa.select(sa.literal(1).label("one")))
    _cut_pooled_connection(pg_url, engine)
    with engine.connect() as conn:
        with pytest.raises(sa.exc.OperationalError) as failed:
            plain.rows(conn, {})
        assert failed.value.connection_invalidated
    with engine.connect() as conn:  # a new connection, not the dead one back from the pool
        assert plain.rows(conn, {})[0].one == 1
    engine.dispose()


def _sqlite_engine(tmp_path: Path) -> tuple[sa.Engine, Path]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "queue.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE counter (n INTEGER NOT NULL)")
        conn.exec_driver_sql("INSERT INTO counter VALUES (0)")
    return engine, Path(f"{path}-writer.lock")


def test_sqlite_writers_of_other_processes_queue_on_the_lock_file(tmp_path: Path) -> None:
    engine, lock_file = _sqlite_engine(tmp_path)
    assert lock_file.exists()
    done = threading.Event()

    def write() -> None:
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE counter SET n = n + 1")
        done.set()

    with lock_file.open("r+") as held:  # another process in its write transaction
        fcntl.flock(held, fcntl.LOCK_EX)
        writer = threading.Thread(target=write)
        writer.start()
        assert not done.wait(0.3), "a writer began while another process held the queue"
        # readers do not queue
        with engine.execution_options(**{db.READ_ONLY: True}).connect() as conn:
            assert conn.exec_driver_sql("SELECT n FROM counter").scalar_one() == 0
        fcntl.flock(held, fcntl.LOCK_UN)
    writer.join(5)
    assert done.is_set()
    engine.dispose()


def test_sqlite_concurrent_writers_lose_no_update(tmp_path: Path) -> None:
    engine, _ = _sqlite_engine(tmp_path)
    other = make_engine(str(engine.url))  # a second "process": its own queue, same file
    errors: list[BaseException] = []

    def bump(e: sa.Engine) -> None:
        try:
            for _ in range(25):
                with e.begin() as conn:
                    n = conn.exec_driver_sql("SELECT n FROM counter").scalar_one()
                    conn.exec_driver_sql("UPDATE counter SET n = ?", (n + 1,))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=bump, args=(e,)) for e in (engine, other) * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT n FROM counter").scalar_one() == 200
    engine.dispose()
    other.dispose()


def test_sqlite_failed_transaction_frees_the_queue(tmp_path: Path) -> None:
    engine, _ = _sqlite_engine(tmp_path)
    with pytest.raises(sa.exc.OperationalError), engine.begin() as conn:
        conn.exec_driver_sql("UPDATE no_such_table SET x = 1")
    with engine.begin() as conn:  # would wait forever if the failed one kept the queue
        conn.exec_driver_sql("UPDATE counter SET n = 5")
    engine.dispose()


def test_sqlite_engines_leave_no_lock_file_open(tmp_path: Path) -> None:
    def open_files() -> int:
        gc.collect()
        return len(os.listdir("/proc/self/fd"))

    before = open_files()
    for n in range(20):
        engine, _ = _sqlite_engine(tmp_path / str(n))
        engine.dispose()
        del engine
    assert open_files() <= before + 2
