"""The worker loop: ticks in turn, sleeping only when all were idle, stopping on request."""

from __future__ import annotations

import threading

from provider.outbox.worker import run_loop


def test_busy_ticks_run_again_without_sleeping_and_stop_ends_the_loop() -> None:
    stop = threading.Event()
    calls: list[str] = []
    work = iter([3, 2, 1])

    def outbox() -> int:
        calls.append("outbox")
        return next(work, 0)

    def alerts() -> int:
        calls.append("alerts")
        if calls.count("alerts") == 5:
            stop.set()
        return 0

    # A long idle sleep would make this test hang if the loop slept while there was work.
    run_loop([outbox, alerts], stop, idle_sleep_min=0.001, idle_sleep_max=0.002)

    assert calls[:6] == ["outbox", "alerts"] * 3
    assert calls.count("alerts") == 5


def test_a_failing_tick_does_not_stop_the_others() -> None:
    stop = threading.Event()
    seen: list[int] = []

    def broken() -> int:
        raise RuntimeError("database blip")

    def counting() -> int:
        seen.append(1)
        if len(seen) == 3:
            stop.set()
        return 0

    run_loop([broken, counting], stop, idle_sleep_min=0.001, idle_sleep_max=0.001)

    assert len(seen) == 3


def test_stop_set_before_start_runs_nothing() -> None:
    stop = threading.Event()
    stop.set()
    run_loop([lambda: (_ for _ in ()).throw(AssertionError("ran"))], stop)
