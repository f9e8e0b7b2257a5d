"""Group commit of created alerts: the requests that arrive together share one transaction.

In a storm every web thread of a process is doing the same thing: insert one ``alert_requests``
row and commit it before answering 202. Each commit is a write-lock turn on SQLite (taken in
turn with the worker's transactions) and a WAL flush on PostgreSQL. Here the first thread to
arrive leads: it opens a transaction (on SQLite, waits for the write lock), then takes every
row queued by then, the rows of threads that arrived while it waited included, inserts them in
one statement and commits. Each thread is answered once its own row is committed, so a 202 still
means durable; a row that the batch could not write is retried alone, so one bad row fails only
its own request. The next leader is the first thread that queued behind the batch.

Nothing waits to fill a batch: a thread alone commits alone, at once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from typing import Any
from typing import cast

from sqlalchemy import Table
from sqlalchemy import insert
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from provider.extension import Extension
from provider.ops.alerts.models import AlertRequest

# A Core statement, built once: the rows are plain values, the ORM's bulk path would only add
# per-row bookkeeping.
_INSERT = insert(cast(Table, AlertRequest.__table__))

# Rows in one statement at most; a process has a handful of web threads, so this only bounds
# the unexpected.
MOST_PER_BATCH = 500


class _Queued:
    __slots__ = ("error", "leads", "row", "woken")

    def __init__(self, row: dict[str, Any]) -> None:
        self.row = row
        self.woken = threading.Event()
        self.leads = False
        self.error: BaseException | None = None


class GroupCommit:
    """Insert alert request rows, committed together with the rows queued beside them."""

    def __init__(self, factory: sessionmaker[Session], *, most: int = MOST_PER_BATCH) -> None:
        # Rows go out on a connection of the sessions' bind, not through a session: the
        # session's bookkeeping was a fifth of the intake's CPU (cProfile of POST /v1/alerts),
        # for one Core statement and a commit.
        bind = factory.kw.get("bind")
        if not isinstance(bind, Engine | Connection):
            raise TypeError("GroupCommit needs a session factory bound to an engine or connection")
        self.bind: Engine | Connection = bind
        self.most = most
        self._lock = threading.Lock()
        self._queue: list[_Queued] = []
        self._leading = False

    def insert(self, row: dict[str, Any]) -> None:
        """Insert ``row`` (every column it sets named, as every other row of the batch) and
        return once it is committed.

        Call it with no write transaction open in this thread: on SQLite the leader's
        transaction would wait for that one's lock.

        :raises Exception: what writing this row raised.
        """
        queued = _Queued(row)
        with self._lock:
            self._queue.append(queued)
            queued.leads = not self._leading
            self._leading = True
        if not queued.leads:
            queued.woken.wait()
        if queued.leads:
            self._lead()
        if queued.error is not None:
            raise queued.error

    def waiting(self) -> int:
        """How many rows are queued for the next commit (the leader's included until it takes
        them)."""
        with self._lock:
            return len(self._queue)

    def _lead(self) -> None:
        batch: list[_Queued] = []
        try:
            try:
                with self.transaction() as connection:  # on SQLite, waits for the write lock
                    batch = self._take()
                    connection.execute(_INSERT, [q.row for q in batch])
                errors: list[Exception | None] = [None] * len(batch)
            except Exception:
                if len(batch) < 2:
                    raise  # nothing taken (the database is unreachable, say), or one row
                errors = [self._alone(q.row) for q in batch]
            for queued, error in zip(batch, errors, strict=True):
                queued.error = error
        except BaseException as error:
            batch = batch or self._take()
            for queued in batch:
                queued.error = error
            raise
        finally:
            with self._lock:
                if self._queue:
                    self._queue[0].leads = True
                    self._queue[0].woken.set()
                else:
                    self._leading = False
            for queued in batch:
                queued.woken.set()

    def _take(self) -> list[_Queued]:
        with self._lock:
            batch, self._queue = self._queue[: self.most], self._queue[self.most :]
        return batch

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A transaction of its own, committed when the block ends and rolled back if it
        raises; a savepoint when bound to a connection (the test suite's, inside its own
        transaction)."""
        if isinstance(self.bind, Connection):
            with self.bind.begin_nested():
                yield self.bind
            return
        with self.bind.begin() as connection:
            yield connection

    def write(self, rows: Sequence[dict[str, Any]]) -> list[Exception | None]:
        """Insert and commit ``rows`` in one transaction; if that fails, each row in a
        transaction of its own. Returns what each row's write raised, ``None`` for a success."""
        try:
            with self.transaction() as connection:
                connection.execute(_INSERT, list(rows))
            return [None] * len(rows)
        except Exception as error:
            if len(rows) == 1:
                return [error]
        return [self._alone(row) for row in rows]

    def _alone(self, row: dict[str, Any]) -> Exception | None:
        try:
            with self.transaction() as connection:
                connection.execute(_INSERT, [row])
        except Exception as error:
            return error
        return None


INTAKE: Extension[GroupCommit] = Extension("alert_intake")
