"""Rate limits shared by every process that points at the same store.

``RATE_LIMIT_STORAGE_URL`` picks the store: ``memory://`` (the default) counts in each process,
which is right for one process and lets N processes allow N times a limit; ``redis://…`` counts
in Redis, so a limit holds across every web process of a deployment. The counting is the
``limits`` library's moving window, atomic in both stores.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem
from limits import parse
from limits.storage import Storage
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Limit:
    """A named limit, e.g. ``Limit("failed sign-ins per address", "10/15 minutes")``."""

    name: str
    rate: str

    @property
    def item(self) -> RateLimitItem:
        return parse(self.rate)


class RateLimiter:
    """Count hits of named limits per identifier in one store."""

    def __init__(self, storage_url: str = "memory://") -> None:
        self.storage_url = storage_url
        storage = storage_from_string(storage_url)
        if not isinstance(storage, Storage):
            raise ValueError(f"{storage_url!r} names an asynchronous store")
        self.storage = storage
        self._strategy = MovingWindowRateLimiter(self.storage)
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
