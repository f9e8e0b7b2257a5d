"""Rate limits shared by every process that points at the same store.

``RATE_LIMIT_STORAGE_URL`` picks the store: ``memory://`` (the default) counts in each process,
which is right for one process and lets N processes allow N times a limit; ``redis://…`` counts
in Redis, so a limit holds across every web process of a deployment. The counting is the
``limits`` library's sliding-window counter: two counters per key, atomic in both stores and
constant in cost whatever the limit (a moving window keeps every hit).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from limits import RateLimitItem
from limits import parse
from limits.storage import MemoryStorage
from limits.storage import Storage
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Limit:
    """A named limit, e.g. ``Limit("failed sign-ins per address", "10/15 minutes")``."""

    name: str
    rate: str

    @property
    def item(self) -> RateLimitItem:
        return parse(self.rate)


class SweptMemoryStorage(MemoryStorage):
    """``limits``' in-memory store, its expired counters swept by the caller, once a second.

    The library's store drops expired counters from a ``threading.Timer`` that it starts again
    10 ms after the last sweep on every hit: under an alert storm a new thread every few
    requests, an eighth of the intake path's CPU. Counters are read through ``get``, which
    already ignores an expired one, so the sweep only bounds memory and need not be prompt.
    """

    SWEEP_EVERY = 1.0

    def __init__(self, uri: str | None = None, **options: Any) -> None:
        super().__init__(uri, **options)
        self.timer.cancel()  # the one the library's constructor started
        self.timer.join()
        self._next_sweep = 0.0

    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 - the library's hook
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.SWEEP_EVERY
            self.sweep()

    def sweep(self) -> None:
        """Drop every expired counter now."""
        self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


class RateLimiter:
    """Count hits of named limits per identifier in one store."""

    def __init__(self, storage_url: str = "memory://", *, namespace: str = "provider") -> None:
        """:param namespace: keeps apart the counters of deployments that share one Redis."""
        self.storage_url = storage_url
        storage = (
            SweptMemoryStorage(storage_url)
            if urlsplit(storage_url).scheme == "memory"
            else storage_from_string(storage_url, key_prefix=f"LIMITS:{namespace}")
        )
        if not isinstance(storage, Storage):
            raise ValueError(f"{storage_url!r} names an asynchronous store")
        self.storage = storage
        self._strategy = SlidingWindowCounterRateLimiter(self.storage)
        self._items: dict[str, RateLimitItem] = {}

    def _item(self, limit: Limit) -> RateLimitItem:
        item = self._items.get(limit.rate)
        if item is None:
            item = self._items[limit.rate] = limit.item
        return item

    def hit(self, limit: Limit, *identifiers: str) -> float:
        """Count one hit; 0 when within the limit, else the seconds until one is allowed."""
        item = self._item(limit)
        if self._strategy.hit(item, limit.name, *identifiers):
            return 0.0
        return self.retry_after(limit, *identifiers)

    def exhausted(self, limit: Limit, *identifiers: str) -> float:
        """Without counting: 0 when another hit would be allowed, else the seconds to wait."""
        item = self._item(limit)
        if self._strategy.test(item, limit.name, *identifiers):
            return 0.0
        return self.retry_after(limit, *identifiers)

    def retry_after(self, limit: Limit, *identifiers: str) -> float:
        stats = self._strategy.get_window_stats(self._item(limit), limit.name, *identifiers)
        return max(1.0, math.ceil(stats.reset_time - time.time()))

    def clear(self, limit: Limit, *identifiers: str) -> None:
        self._strategy.clear(self._item(limit), limit.name, *identifiers)
