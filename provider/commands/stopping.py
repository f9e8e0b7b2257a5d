"""A stop request a signal handler can make safely: no lock taken inside the handler.

``threading.Event.set`` takes the event's condition lock. A handler that calls it while the main
thread is itself inside ``Event.wait`` or ``Event.set`` (both hold that lock) waits for a lock
its own thread holds, and the process hangs until it is killed: systemd and a PaaS signal every
process, and a supervisor forwards its own copy, so two signals in quick succession are the rule.

Here the handler only assigns a flag. Waking the sleeping main thread is done by the interpreter:
:func:`signal.set_wakeup_fd` writes a byte to a pipe whenever a signal arrives, and
:meth:`SignalStop.wait` sleeps in ``select`` on that pipe.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
from collections.abc import Callable
from collections.abc import Iterable
from types import FrameType


class SignalStop:
    """Set by the first of ``signals``; :meth:`wait` returns as soon as one arrives.

    Install it from the main thread (as any signal handler) and use it as a context manager:
    leaving the block puts the previous wakeup file descriptor back and closes the pipe. The
    handlers stay: a late copy of the stop signal while the process exits changes nothing.
    """

    def __init__(
        self,
        signals: Iterable[int] = (signal.SIGTERM, signal.SIGINT),
        on_signal: Callable[[int], None] | None = None,
    ) -> None:
        self._signals = tuple(signals)
        self._on_signal = on_signal
        self._requested = False
        self.signum: int | None = None
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        self._previous_fd = -1

    def __enter__(self) -> SignalStop:
        self._previous_fd = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        for signum in self._signals:
            signal.signal(signum, self._handle)
        return self

    def __exit__(self, *_: object) -> None:
        signal.set_wakeup_fd(self._previous_fd)
        os.close(self._read)
        os.close(self._write)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
            if self._on_signal is not None:
                self._on_signal(signum)
        self._requested = True

    def set(self) -> None:
        self._requested = True
        with contextlib.suppress(BlockingIOError):  # full: a wake-up is already waiting
            os.write(self._write, b"\0")

    def is_set(self) -> bool:
        return self._requested

    def wait(self, timeout: float | None = None) -> bool:
        """Sleep until a stop is requested or ``timeout`` seconds pass; whether one was."""
        if not self._requested:
            select.select([self._read], [], [], timeout)
            self._drain()
        return self._requested

    def _drain(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self._read, 512):
                pass
