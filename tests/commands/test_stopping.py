"""SignalStop: a stop request that signal handlers make without taking a lock."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from types import FrameType
from typing import Any

import pytest

from provider.commands.stopping import SignalStop


@pytest.fixture
def handlers() -> Iterator[None]:
    """Put this process's SIGINT and SIGTERM handlers back after the test."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def _lock_calls(call: Any) -> list[str]:
    """The lock operations (C calls) made while ``call()`` runs."""
    seen: list[str] = []

    def profile(_frame: FrameType, event: str, arg: Any) -> None:
        name = getattr(arg, "__qualname__", "")
        if event == "c_call" and "lock" in name.lower():
            seen.append(name)

    sys.setprofile(profile)
    try:
        call()
    finally:
        sys.setprofile(None)
    return seen


def test_the_handler_takes_no_lock(handlers: None) -> None:
    # A lock taken inside a handler may be held by the very frame the signal interrupted: the
    # worker hung so, killed after the stop bound, when two stop signals came close together.
    with SignalStop() as stop:
        handler = signal.getsignal(signal.SIGTERM)
        assert callable(handler)
        assert _lock_calls(lambda: handler(signal.SIGTERM, None)) == []
        assert stop.is_set()
    # What the test would see from the handler it replaced.
    assert _lock_calls(threading.Event().set) != []


def test_a_signal_wakes_the_waiting_thread_at_once(handlers: None) -> None:
    with SignalStop() as stop:
        assert not stop.wait(0.01)
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()
        started = time.monotonic()
        assert stop.wait(30)
        assert time.monotonic() - started < 5
        assert stop.signum == signal.SIGTERM


def test_the_first_signal_is_the_one_reported_and_acted_on(handlers: None) -> None:
    acted: list[int] = []
    with SignalStop(on_signal=acted.append) as stop:
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.wait(5)
    assert acted == [signal.SIGINT]
    assert stop.signum == signal.SIGINT


def test_set_from_another_thread_wakes_the_waiter_and_the_wakeup_fd_is_restored(
    handlers: None,
) -> None:
    before = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(before)
    with SignalStop() as stop:
        threading.Timer(0.1, stop.set).start()
        assert stop.wait(30)
    assert signal.set_wakeup_fd(before) == before
