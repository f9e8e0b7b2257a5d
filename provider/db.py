"""Database foundation: the declarative base, column types, engines and per-request sessions.

SQLite (embedded default) and PostgreSQL (production) are both first-class. Sessions are created in
two places only: :func:`get_session` (one per request) and the worker (one transaction per batch).
"""

from __future__ import annotations

import collections
import enum
import fcntl
import functools
import os
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from typing import Annotated
from typing import Any
from typing import ParamSpec
from typing import TypeVar

import sqlalchemy as sa
from flask import Flask
from flask import g
from sqlalchemy import MetaData
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import sessionmaker
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from provider.config import Settings
from provider.extension import Extension
from provider.times import utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend.

    SQLite has no timezone type and hands back naive values; this stores UTC and always returns an
    aware datetime, so comparisons never mix naive and aware values.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def new_public_id() -> str:
    """The id an entity is known by outside the database (a UUID): never the row number."""
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
        list[str]: JSONType,
        enum.Enum: sa.Enum(
            enum.Enum, native_enum=False, values_callable=lambda e: [m.value for m in e]
        ),
    }


intpk = Annotated[int, mapped_column(primary_key=True)]
created_now = Annotated[datetime, mapped_column(default=utcnow)]
updated_now = Annotated[datetime, mapped_column(default=utcnow, onupdate=utcnow)]
public_uuid = Annotated[str, mapped_column(sa.String(64), unique=True, default=new_public_id)]


def value_enum(kind: type[enum.Enum], length: int) -> sa.Enum:
    """An enum stored by value in a VARCHAR of ``length``: room for values added later, no ALTER."""
    return sa.Enum(
        kind, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e]
    )


class _Among(ColumnElement[bool]):
    """``column IN (…)`` with the values bound under one name; see :func:`among`."""

    inherit_cache = True
    type = sa.Boolean()
    _is_implicitly_boolean = True
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("name", InternalTraversal.dp_string),
    ]

    def __init__(self, column: ColumnElement[Any], name: str) -> None:
        self.column = column
        self.name = name


def among(column: ColumnElement[Any] | QueryableAttribute[Any], name: str) -> ColumnElement[bool]:
    """``column`` is one of the values bound as ``name`` (a list; empty matches nothing).

    On PostgreSQL one array (``= ANY(:name)``): the statement's text is the same however many
    values a batch brings, so psycopg converts it once and the server can prepare it, rather
    than parse and plan a new text for every length of the list. Elsewhere an expanding
    ``IN``.
    """
    if isinstance(column, QueryableAttribute):
        column = column.__clause_element__()
    return _Among(column, name)


@compiles(_Among)
def _among(element: _Among, compiler: SQLCompiler, **kw: Any) -> str:
    values: sa.BindParameter[Any] = sa.bindparam(element.name, expanding=True)
    return compiler.process(element.column.in_(values), **kw)


@compiles(_Among, "postgresql")
def _among_array(element: _Among, compiler: SQLCompiler, **kw: Any) -> str:
    values = sa.bindparam(element.name, type_=ARRAY(element.column.type))
    return compiler.process(element.column == sa.any_(values), **kw)


def upsert_insert(session: Session) -> Any:
    """The dialect's ``insert`` (PostgreSQL's or SQLite's), which has ``on_conflict_do_*``."""
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.dialects import sqlite

    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def make_engine(database_url: str, **kwargs: Any) -> Engine:
    """Create an engine with the per-backend settings this app relies on."""
    if database_url.startswith("sqlite"):
        engine = sa.create_engine(
            database_url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        _serialize_sqlite_writers(engine)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    engine = sa.create_engine(database_url, **kwargs)
    event.listen(engine, "checkin", _note_checkin)
    dialect = engine.dialect

    def ping_if_idle(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_conn)
        except Exception as e:
            raise sa.exc.DisconnectionError(str(e)) from e

    event.listen(engine, "checkout", ping_if_idle)
    return engine


# A pooled connection that sat idle may have been cut (a database restart, a PaaS proxy's idle
# timeout), so it is pinged before use. One in constant use is not: a ping on every checkout is a
# round trip on every request, and a connection that dies while busy fails its statement, which
# makes SQLAlchemy discard every pooled connection opened before the failure.
PING_AFTER_IDLE_SECONDS = 1.0


def _note_checkin(_dbapi_conn: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # pysqlite's own transaction handling defers BEGIN; take control so BEGIN IMMEDIATE can be used
    # and writers serialize at transaction start instead of failing on lock upgrade.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


READ_ONLY = "provider_read_only"


SQLITE_WRITE_WAIT_SECONDS = 30


def _serialize_sqlite_writers(engine: Engine) -> None:
    """Writers queue on a lock of the process and a file lock before SQLite's write lock.

    A transaction that may write begins with ``BEGIN IMMEDIATE``: this removes the "database is
    locked" failure of two deferred transactions upgrading at once. But SQLite's busy handler
    waits for that lock by sleeping in growing steps (up to 100 ms) and hands it to no one in
    particular, so under contention writers wait far longer than the lock is held and the
    unlucky ones starve: measured, ingestion's 202 had a p99 above a second with two gunicorn
    workers. Threads now queue on a Python lock and processes on an ``flock`` of a file beside
    the database; both wake a waiter the moment the lock is free, and BEGIN IMMEDIATE then finds
    SQLite's lock free too.

    A session that only reads (see :func:`read_only`) takes none of them: its statements run in
    autocommit, each a shared read under WAL, side by side.
    """
    queue = _WriterQueue(engine.url.database)

    def begin(conn: sa.Connection) -> None:
        if conn.get_execution_options().get(READ_ONLY):
            return
        queue.acquire()
        conn.info[_HOLDS_WRITE_LOCK] = True
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            release(conn)
            raise

    def release(conn: sa.Connection) -> None:
        # Runs just before the COMMIT or ROLLBACK itself; a writer let in at that instant waits
        # out the commit in the busy handler's first, 1 ms, step.
        if conn.info.pop(_HOLDS_WRITE_LOCK, False):
            queue.release()

    def release_record(_dbapi_conn: Any, record: Any, *_args: Any) -> None:
        # a connection returned or reset with its transaction never ended (an error path)
        if record.info.pop(_HOLDS_WRITE_LOCK, False):
            queue.release()

    event.listen(engine, "begin", begin)
    event.listen(engine, "commit", release)
    event.listen(engine, "rollback", release)
    event.listen(engine, "checkin", release_record)
    event.listen(engine, "invalidate", release_record)


class _WriterQueue:
    """One writer at a time across the threads and processes that use one SQLite file."""

    def __init__(self, database: str | None) -> None:
        self._threads = threading.Lock()
        in_memory = not database or database == ":memory:" or database.startswith("file:")
        self._path = None if in_memory else f"{database}-writer.lock"
        self._fd: int | None = None
        self._pid = 0

    def acquire(self) -> None:
        if not self._threads.acquire(timeout=SQLITE_WRITE_WAIT_SECONDS):
            raise sa.exc.OperationalError(
                "BEGIN IMMEDIATE", None, Exception("database is locked (writer queue)")
            )
        try:
            if self._path is not None:
                fcntl.flock(self._file(), fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def release(self) -> None:
        try:
            if self._path is not None and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _file(self) -> int:
        # Opened per process: a descriptor inherited through fork shares its flock with the
        # parent, which would let both in at once.
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(str(self._path), os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
            weakref.finalize(self, os.close, self._fd)  # with the engine that owns this queue
        return self._fd


_HOLDS_WRITE_LOCK = "provider_holds_sqlite_write_lock"


def make_session_factory(settings_or_engine: Settings | Engine) -> sessionmaker[Session]:
    engine = (
        make_engine(settings_or_engine.database_url)
        if isinstance(settings_or_engine, Settings)
        else settings_or_engine
    )
    return sessionmaker(bind=engine, expire_on_commit=False)


SESSIONS: Extension[sessionmaker[Session]] = Extension("session_factory")
READ_ONLY_SESSIONS: Extension[sessionmaker[Session]] = Extension("read_only_session_factory")


def init_app(app: Flask, session_factory: sessionmaker[Session]) -> None:
    SESSIONS.install(app, session_factory)
    bind = session_factory.kw["bind"]
    if isinstance(bind, Engine):
        options: dict[str, Any] = {READ_ONLY: True}
        if bind.dialect.name != "sqlite":
            # No BEGIN and ROLLBACK round trips around the reads (SQLite: see
            # _serialize_sqlite_writers).
            options["isolation_level"] = "AUTOCOMMIT"
        bind = bind.execution_options(**options)
    # else a connection inside a caller's transaction (tests): reads share it as they are
    kw = {**session_factory.kw, "bind": bind}
    READ_ONLY_SESSIONS.install(app, sessionmaker(class_=ReadOnlySession, **kw))
    app.teardown_appcontext(_close_session)


P = ParamSpec("P")
R = TypeVar("R")


def read_only(view: Callable[P, R]) -> Callable[P, R]:
    """Declare that a view never writes; its session reads in autocommit and refuses to flush.

    Put it above the authentication decorator so the session that authentication opens is
    already the read-only one.
    """

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        g.db_read_only = True
        return view(*args, **kwargs)

    return wrapper


def get_session() -> Session:
    """Return this request's session, opening it on first use."""
    if "db_session" not in g:
        if g.get("db_read_only"):
            g.db_session = READ_ONLY_SESSIONS.get()()
        else:
            g.db_session = SESSIONS.get()()
    session: Session = g.db_session
    return session


def read_connection() -> sa.Connection:
    """A read-only view's connection for Core reads (:class:`PlainSelect`), opened on first use
    and returned to the pool when the request ends.

    An ORM session's transaction bookkeeping around its connection cost four times the pool's
    checkout itself (about 60 µs a request, measured): a view that reads only plain rows does
    without it. The session, if the view opens one, keeps a connection of its own.
    """
    if not g.get("db_read_only"):
        raise RuntimeError("read_connection() is for views declared read_only")
    connection: sa.Connection | None = g.get("db_connection")
    if connection is None:
        bind = READ_ONLY_SESSIONS.get().kw["bind"]
        if not isinstance(bind, Engine):
            shared: sa.Connection = bind  # a caller's connection (tests), as the sessions share it
            return shared
        connection = g.db_connection = bind.connect()
    return connection


def separate_session(*, reading: bool = False) -> Session:
    """A session beside the request's, for work that must commit, or read, on its own.

    Finish it before the request's session starts writing: on SQLite a second writer in the
    same thread would wait for the first.
    """
    factory = READ_ONLY_SESSIONS.get() if reading else SESSIONS.get()
    session: Session = factory()
    return session


class ReadOnlySession(Session):
    """The session of a view declared :func:`read_only`: a change reaching a flush is a bug."""

    def flush(self, objects: Any = None) -> None:
        if self.new or self.dirty or self.deleted:
            raise RuntimeError("a view declared read_only tried to write")
        super().flush(objects)


def _close_session(_exc: BaseException | None) -> None:
    if (session := g.pop("db_session", None)) is not None:
        session.close()  # rolls back anything the handler did not commit
    if (connection := g.pop("db_connection", None)) is not None:
        connection.close()


class PlainSelect:
    """A select for the hottest reads, run on the DBAPI cursor of a SQLAlchemy connection.

    SQLAlchemy's execution of a statement (compiled-cache lookup, execution context, events,
    result object) costs about fifty microseconds of CPU: measured, five times what SQLite spends
    on one of searchContainers' indexed reads, and a seventh of that request's whole CPU over
    its three statements. Here the statement is compiled once per dialect and its rows come back
    as named tuples with the values SQLAlchemy would give (the same result processors); DBAPI
    errors are wrapped as SQLAlchemy's, and a lost connection is invalidated, as its own
    execution does. For selects of plain columns; everything else goes through ``execute``.
    """

    def __init__(self, statement: sa.Select[Any]) -> None:
        self.statement = statement
        self.row: Any = collections.namedtuple("Row", statement.selected_columns.keys())  # type: ignore[misc]
        self._by_dialect: dict[sa.Dialect, _Compiled] = {}

    def rows(
        self, connection: sa.Connection, params: dict[str, Any], *, limit: int | None = None
    ) -> list[Any]:
        """The rows for ``params`` (at most ``limit`` of them)."""
        dialect = connection.dialect
        compiled = self._by_dialect.get(dialect)
        if compiled is None:
            compiled = self._by_dialect[dialect] = _Compiled(self.statement, dialect)
        values = compiled.compiled.construct_params(params)
        for name, process in compiled.bind_processors:
            values[name] = process(values[name])
        args: Any = tuple(values[n] for n in compiled.positions) if compiled.positions else values
        dbapi_connection = connection.connection
        cursor = None
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute(compiled.sql, args)
            fetched = cursor.fetchall() if limit is None else cursor.fetchmany(limit)
            cursor.close()
        except dialect.loaded_dbapi.Error as e:
            invalidated = dialect.is_disconnect(e, dbapi_connection, cursor)
            if invalidated:
                connection.invalidate(e)
            raise sa.exc.DBAPIError.instance(
                compiled.sql,
                args,
                e,
                dialect.loaded_dbapi.Error,
                connection_invalidated=invalidated,
                dialect=dialect,
            ) from e
        make = self.row._make
        processors = compiled.result_processors
        if not any(processors):
            return [make(r) for r in fetched]
        return [
            make([v if p is None else p(v) for p, v in zip(processors, r, strict=True)])
            for r in fetched
        ]


class _Compiled:
    """A :class:`PlainSelect`'s statement for one dialect: its SQL and value conversions."""

    def __init__(self, statement: sa.Select[Any], dialect: sa.Dialect) -> None:
        self.compiled = statement.compile(dialect=dialect)
        self.sql = str(self.compiled)
        if "POSTCOMPILE" in self.sql:
            raise ValueError("a statement with parameters rendered at execution is not plain")
        self.positions: tuple[str, ...] = tuple(self.compiled.positiontup or ())
        self.bind_processors = [
            (name, process)
            for name, bind in self.compiled.binds.items()
            if (process := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        ]
        self.result_processors = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns
        ]
