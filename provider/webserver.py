"""The gunicorn worker the web process runs: gthread, with a shutdown that always ends.

gunicorn's threaded worker serves each connection in a ``ThreadPoolExecutor`` thread that reads
from the socket without a timeout. Its shutdown has two flaws this class removes:

* Quick shutdown (SIGINT, SIGQUIT) calls ``ThreadPoolExecutor.shutdown`` from the signal handler.
  That method takes the pool's ``_shutdown_lock``, a plain ``threading.Lock``; when the signal
  lands while the main thread holds it (inside ``submit`` for a new connection, or inside
  ``shutdown`` for an earlier signal: a SIGINT to the whole process group reaches the worker
  directly and again as the master's SIGQUIT), the handler waits forever for its own thread.
  Later signals run their handlers and go back to waiting, so only SIGKILL ends the process.
* Then ``sys.exit`` makes the interpreter join every pool thread on its way out
  (``concurrent.futures.thread._python_exit``). A thread reading a request from a slow client
  never returns, so "quick" lasts until the master's SIGKILL, or forever once the master is gone:
  an orphan that keeps its ``SO_REUSEPORT`` socket and takes a share of the port's connections.

Here quick shutdown ends the process at once with ``os._exit``, touching no lock; the requests
in flight are dropped, which is what quick shutdown means. Graceful shutdown (SIGTERM) is
gunicorn's: stop accepting, finish what is in flight for ``graceful_timeout`` seconds; the
process then ends even when a connection is still open instead of waiting on its thread.
"""

from __future__ import annotations

import os
import socket
from types import FrameType

from gunicorn.workers import gthread  # type: ignore[import-untyped]


class ThreadWorker(gthread.ThreadWorker):  # type: ignore[misc]
    """``gthread`` whose quick and graceful shutdowns both end within a bound."""

    def handle_quit(self, sig: int, frame: FrameType | None) -> None:
        """SIGINT, SIGQUIT: leave now; safe to run again when the signal comes twice."""
        self.alive = False
        self.cfg.worker_int(self)
        # Nothing that takes a lock (the pool's, a log handler's): the frame this handler
        # interrupted may be holding it.
        os._exit(0)

    def run(self) -> None:
        super().run()
        if self.nr_conns > 0:
            # graceful_timeout has passed; a normal exit would join the threads still reading.
            self.log.warning(
                "Worker exiting with %d connection(s) still open after the graceful timeout"
                " (pid: %s)",
                self.nr_conns,
                self.pid,
            )
            os._exit(0)


def port_in_use(host: str, port: int) -> str | None:
    """Say so when something already listens on ``host:port``; None when the port is free.

    With ``reuse_port`` a second server of the same user would otherwise share the port silently
    and receive part of the connections; other callers want a clearer message than a child's
    "exited with 1".
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As the servers themselves bind: connections in TIME_WAIT do not make a port "in use".
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as e:
            return f"port {port} on {host} is in use by another process ({e.strerror})"
    return None
