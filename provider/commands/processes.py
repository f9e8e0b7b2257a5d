"""The child processes of ``provider run`` and ``provider demo``: started, watched, stopped in time.

Every child runs in a process group of its own. The supervisor alone receives a terminal's Ctrl-C
and passes it on, and when a child has to be killed, SIGKILL goes to its whole group: gunicorn's
workers go with their master instead of living on, orphaned, on the port.

Stopping: the first SIGINT, SIGTERM or SIGHUP is passed on to every child (see :data:`FORWARD`);
whatever is still running :data:`STOP_TIMEOUT` seconds later is killed. A SIGINT while stopping
(a second Ctrl-C) kills at once; another SIGTERM changes nothing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from types import FrameType
from typing import Any

import click

from provider.webserver import port_in_use

# Above gunicorn's graceful_timeout (gunicorn.conf.py), so a SIGTERM lets requests in flight
# finish; low enough that everything is gone 15 s after the signal.
STOP_TIMEOUT = 12.0
# What each stop signal becomes for the children. A closed terminal's SIGHUP means "stop" here
# but "reload" to gunicorn's master.
FORWARD: dict[int, int] = {
    signal.SIGINT: signal.SIGINT,
    signal.SIGTERM: signal.SIGTERM,
    signal.SIGHUP: signal.SIGTERM,
}
POLL = 0.05
SETTLE = 1.0  # how long a child's exit may precede the stop signal that caused it

EXIT_STOPPED = 0  # stopped on request; every process exited in time
EXIT_FAILED = 1  # a process exited on its own or could not start; the others were stopped
EXIT_KILLED = 3  # stopped, but some process had to be killed


class Stopping(Exception):
    """A stop signal arrived: unwind to the ``with`` block, which stops the children."""


class ChildExited(click.ClickException):
    """A child process ended on its own."""


def ensure_port_free(host: str, port: int, hint: str) -> None:
    """Fail with a message a person can act on when something already listens on ``port``.

    The child would fail too, but only as "exited with 1" among the other processes' output.
    """
    if problem := port_in_use(host, port):
        raise click.ClickException(f"{problem}; stop it or {hint}")


class Supervisor:
    """Start named child processes and stop all of them within :data:`STOP_TIMEOUT` seconds.

    Use as a context manager: leaving the block stops the children, then :attr:`status` is the
    exit status for the command. Signal handlers only record and forward; the main flow notices
    a stop through :meth:`check` or :meth:`watch`, never through an exception raised mid-step.
    """

    def __init__(
        self, env: Mapping[str, str] | None = None, stop_timeout: float = STOP_TIMEOUT
    ) -> None:
        self.env = dict(env) if env is not None else None
        self.stop_timeout = stop_timeout
        self.procs: dict[str, subprocess.Popen[Any]] = {}
        self.signal: int | None = None
        self.failed: str | None = None
        self.killed: set[str] = set()
        self.logs: dict[str, Path] = {}
        self._signalled: set[str] = set()

    def __enter__(self) -> Supervisor:
        for signum in FORWARD:
            signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> bool:
        self.stop()
        # Everything is stopped. A late signal (the SIGTERM after a SIGINT from a supervisor or
        # a PaaS) must not turn that into "killed by SIGTERM": the interpreter puts the default
        # handlers back while it exits, but leaves ignored signals ignored.
        for signum in FORWARD:
            signal.signal(signum, signal.SIG_IGN)
        return exc_type is Stopping

    @property
    def status(self) -> int:
        if self.killed:
            return EXIT_KILLED
        return EXIT_FAILED if self.failed else EXIT_STOPPED

    def start(self, name: str, argv: list[str], log: Path | None = None) -> None:
        """Start ``argv`` in a new process group, its output to ``log`` (afresh) or to ours."""
        self.check()
        if log is None:
            self.procs[name] = subprocess.Popen(argv, env=self.env, process_group=0)  # noqa: S603
            return
        self.logs[name] = log
        with log.open("wb") as out:
            self.procs[name] = subprocess.Popen(  # noqa: S603
                argv, env=self.env, process_group=0, stdout=out, stderr=subprocess.STDOUT
            )

    def check(self) -> None:
        """Raise :class:`Stopping` after a stop signal, :class:`ChildExited` if a child ended."""
        for name, proc in self.procs.items():
            code = proc.poll()
            if code is not None and not self._signalled_within(SETTLE):
                self.failed = name
                where = f"; its output is in {self.logs[name]}" if name in self.logs else ""
                raise ChildExited(f"{name} exited with {_describe(code)}{where}")
        if self.signal is not None:
            raise Stopping

    def watch(self) -> None:
        """Block until a stop signal arrives or a child ends (then as :meth:`check`)."""
        while True:
            self.check()
            time.sleep(POLL * 4)

    def stop(self) -> None:
        """Forward the stop to every child, wait up to the bound, then kill what is left."""
        if self.signal is not None:
            click.echo(
                f"stopping on {signal.Signals(self.signal).name} "
                f"(at most {self.stop_timeout:.0f} s; Ctrl-C again to kill at once)",
                err=True,
            )
        self._send(FORWARD[self.signal] if self.signal else signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        while self._running() and time.monotonic() < deadline:
            time.sleep(POLL)
        self.kill()
        for proc in self.procs.values():
            proc.wait()
        if self.killed:
            click.echo(f"killed {', '.join(sorted(self.killed))}", err=True)

    def kill(self) -> None:
        """SIGKILL every child's whole process group (its own children included)."""
        for name, proc in self.procs.items():
            if proc.poll() is None:
                self.killed.add(name)
            # Even after the child itself exited: a crashed gunicorn master leaves its workers.
            _signal_group(proc, signal.SIGKILL)

    def _signalled_within(self, seconds: float) -> bool:
        """Whether a stop signal arrives within ``seconds``.

        systemd and a PaaS signal every process, in no particular order: a child may be gone
        before this process got its own signal. That is a stop, not a child failing.
        """
        deadline = time.monotonic() + seconds
        while self.signal is None and time.monotonic() < deadline:
            time.sleep(POLL)
        return self.signal is not None

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if self.signal is None:
            self.signal = signum
            self._send(FORWARD[signum])
        elif signum == signal.SIGINT:
            self.kill()

    def _send(self, signum: int) -> None:
        for name, proc in self.procs.items():
            if name not in self._signalled and proc.poll() is None:
                self._signalled.add(name)
                # To the child, not its group: gunicorn's master stops its own workers.
                proc.send_signal(signum)

    def _running(self) -> list[str]:
        return [name for name, proc in self.procs.items() if proc.poll() is None]


def _signal_group(proc: subprocess.Popen[Any], signum: int) -> None:
    # ESRCH: the group is empty. EPERM: macOS answers so when only zombies are left in it.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signum)


def _describe(code: int) -> str:
    return f"signal {signal.Signals(-code).name}" if code < 0 else str(code)
