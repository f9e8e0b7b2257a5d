"""A short memory of the API keys that resolved, for the intake paths that take alerts in storms.

Checking a key costs a query (two for an integration key) on every request. The views that
only record a request for the worker (creating alerts, the writes on one, integration events)
may take a key that resolved in this app in the last ``ttl`` seconds instead, as Jira's
read-only calls do with installations (:mod:`provider.connect.installations`).

What that allows, and no more:

- entries are keyed by the SHA-256 of the key, so a key finds only what that same key resolved
  to: another tenant's key, a mistyped key or a revoked key never reads an entry it did not
  make, and a key that failed is not remembered (it is counted against the failure limits);
- an entry lives ``ttl`` seconds (``API_KEY_CACHE_SECONDS``, 2 by default; 0 turns the memory
  off): a key revoked or rotated, an integration disabled or its permissions narrowed by another
  process is refused within that time. A change committed through this app's own sessions
  forgets everything at once (:meth:`KeyMemory.forget_on_change`);
- at most ``max_entries`` keys are held; when full the memory starts over.

Each request gets its own transient copy of the workspace and integration rows, so no ORM
object is shared between threads or joins a request's session.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy import inspect
from sqlalchemy.orm import Session
from sqlalchemy.orm import UOWTransaction
from sqlalchemy.orm import sessionmaker

from provider.crypto import hash_key
from provider.ops.access.principal import ApiPrincipal

MAX_REMEMBERED = 10_000
_CHANGED = "provider_api_keys_changed"


@dataclass(frozen=True, slots=True)
class _Row:
    """The column values of one loaded row, enough to rebuild a transient copy of it."""

    cls: type[Any]
    values: dict[str, Any]

    @classmethod
    def of(cls, row: Any) -> _Row:
        mapper = inspect(type(row))
        return cls(type(row), {c.key: getattr(row, c.key) for c in mapper.column_attrs})

    def copy(self) -> Any:
        # Built as the ORM builds a loaded row (state, then values), not via the constructor,
        # whose per-attribute events cost many times more.
        instance = inspect(self.cls).class_manager.new_instance()
        instance.__dict__.update(self.values)
        return instance


@dataclass(frozen=True, slots=True)
class _Entry:
    expires: float
    workspace: _Row
    integration: _Row | None
    permissions: frozenset[str]
    key_id: str

    def principal(self) -> ApiPrincipal:
        return ApiPrincipal(
            workspace=self.workspace.copy(),
            integration=self.integration.copy() if self.integration is not None else None,
            permissions=self.permissions,
            key_id=self.key_id,
        )


class KeyMemory:
    """What keys resolved to in the last ``ttl`` seconds, per app."""

    def __init__(
        self,
        ttl: float = 2.0,
        *,
        max_entries: int = MAX_REMEMBERED,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        # Counts forgettings: a key looked up before one must not be remembered after it.
        self.generation = 0

    @staticmethod
    def digest(key: str) -> str:
        return hash_key(key)

    def recall(self, digest: str) -> ApiPrincipal | None:
        """A copy of the principal ``digest``'s key resolved to within ``ttl``, else ``None``."""
        if self.ttl <= 0:
            return None
        with self._lock:
            entry = self._entries.get(digest)
        if entry is None:
            return None
        if entry.expires <= self.clock():
            with self._lock:
                if self._entries.get(digest) is entry:
                    del self._entries[digest]
            return None
        return entry.principal()

    def remember(self, digest: str, principal: ApiPrincipal, *, generation: int) -> None:
        """Keep what a key resolved to, unless the memory was cleared since ``generation`` (read
        before the lookup began). The rows must be loaded: their columns are read."""
        if self.ttl <= 0:
            return
        integration = principal.integration
        entry = _Entry(
            self.clock() + self.ttl,
            _Row.of(principal.workspace),
            _Row.of(integration) if integration is not None else None,
            principal.permissions,
            principal.key_id,
        )
        with self._lock:
            if generation != self.generation:
                return  # a change committed meanwhile: the lookup may have read the old rows
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[digest] = entry

    def forget_all(self) -> None:
        with self._lock:
            self.generation += 1
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def forget_on_change(self, factory: sessionmaker[Session], *models: type[Any]) -> None:
        """Forget every key when a session of ``factory`` commits a change to a ``models`` row.

        Rows that decide what a key may do (a workspace's key, an integration's key, state or
        permissions) change rarely, so forgetting all of them is simpler than tracking which.
        """

        def after_flush(session: Session, _flush: UOWTransaction) -> None:
            if any(isinstance(row, models) for row in (*session.dirty, *session.deleted)):
                session.info[_CHANGED] = True

        def after_commit(session: Session) -> None:
            if session.info.pop(_CHANGED, False):
                self.forget_all()

        def after_rollback(session: Session) -> None:
            session.info.pop(_CHANGED, None)

        event.listen(factory, "after_flush", after_flush)
        event.listen(factory, "after_commit", after_commit)
        event.listen(factory, "after_rollback", after_rollback)
