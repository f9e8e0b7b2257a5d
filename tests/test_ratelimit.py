"""The in-memory rate-limit store: counts as the library's does, without a thread per hit."""

from __future__ import annotations

import threading
import time

from provider.ratelimit import Limit
from provider.ratelimit import RateLimiter
from provider.ratelimit import SweptMemoryStorage

PER_SECOND = Limit("test hits", "3/1 second")


def test_memory_limits_count_and_refuse_without_starting_threads() -> None:
    limiter = RateLimiter("memory://")
    assert isinstance(limiter.storage, SweptMemoryStorage)
    threads = threading.active_count()
    assert [limiter.hit(PER_SECOND, "a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.hit(PER_SECOND, "a") >= 1.0
    assert limiter.hit(PER_SECOND, "b") == 0.0  # another identifier, its own count
    for i in range(500):
        limiter.hit(PER_SECOND, f"many-{i}")
    # The library's own store starts a timer thread after hits; none lives on here.
    assert threading.active_count() == threads
    assert not limiter.storage.timer.is_alive()


def test_expired_counters_are_swept_by_a_later_hit() -> None:
    limiter = RateLimiter("memory://")
    storage = limiter.storage
    assert isinstance(storage, SweptMemoryStorage)
    for i in range(50):
        limiter.hit(PER_SECOND, f"old-{i}")
    assert len(storage.storage) >= 50
    time.sleep(2.1)  # a sliding window keeps the previous window's counter for one more
    storage._next_sweep = 0.0  # the next hit sweeps, as one does at most once a second
    limiter.hit(PER_SECOND, "new")
    assert set(storage.expirations) == {key for key in storage.expirations if "new" in key}
    assert not any("old-" in key for key in storage.storage)
