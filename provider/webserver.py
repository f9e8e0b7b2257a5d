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

Each request also costs less than in gthread: a kept-alive connection goes back on the poller
from the thread that served it (``_serve``), and a small answer leaves in one send
(``OneSendResponse``).
"""

from __future__ import annotations

import os
import selectors
import socket
import sys
import time
from datetime import UTC
from datetime import datetime
from functools import partial
from types import FrameType
from typing import Any

from gunicorn import util  # type: ignore[import-untyped]
from gunicorn.http import wsgi  # type: ignore[import-untyped]
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

    def enqueue_req(self, conn: Any) -> None:
        # No done-callback: gunicorn's wakes the main thread through a pipe after every request.
        self.tpool.submit(self._serve, conn)

    def _serve(self, conn: Any) -> None:
        """Serve one request, then put a kept-alive connection back on the poller from here.

        gunicorn hands every finished request back to the main thread (a future's callback, a
        byte through a pipe, a wake-up of its poller, a callback queue) only to register the
        socket with the poller again: two system calls and a thread switch per request. The common
        case (keep-alive, worker alive, nothing read ahead) is done in this thread: the deque
        and the epoll selector take an append and a register from any thread (the main thread
        unregisters a socket only after the poller reported it, that is after this
        registration). Everything else (closing, counting, shutdown's lingering, read-ahead
        bytes) still goes through gunicorn's ``finish_request`` on the main thread.
        """
        try:
            keep = self.handle(conn)
        except BaseException:  # handle() catches what a request raises; stay like a future
            keep = False
        if keep is True and self.alive and not conn.parser.unreader.buf.getvalue():
            conn.set_timeout()
            self.keepalived_conns.append(conn)
            try:
                self.poller.register(
                    conn.sock, selectors.EVENT_READ, partial(self.on_client_socket_readable, conn)
                )
            except (OSError, ValueError, KeyError):
                self.keepalived_conns.remove(conn)
                self.method_queue.defer(self.finish_request, conn, _Finished(False))
                return
            if not self.alive:  # stopping began meanwhile: linger no longer than gunicorn does
                conn.timeout = min(conn.timeout, time.monotonic() + gthread.STOP_KEEPALIVE_LINGER)
            return
        self.method_queue.defer(self.finish_request, conn, _Finished(keep))

    def handle_request(self, req: Any, conn: Any) -> bool:
        """gunicorn 27's ``handle_request``, with a response that writes headers and body at once.

        Only ``response_class`` differs from gunicorn's own (which has no way to pass it).
        """
        environ: dict[str, Any] = {}
        resp = None
        try:
            self.cfg.pre_request(self, req)
            request_start = datetime.now(UTC)
            resp, environ = wsgi.create(
                req, conn.sock, conn.client, conn.server, self.cfg, response_class=OneSendResponse
            )
            environ["wsgi.multithread"] = True
            self.nr += 1
            if self.nr >= self.max_requests:
                if self.alive:
                    self.log.info("Autorestarting worker after current request.")
                    self.alive = False
                resp.force_close()
            if (
                not self.alive
                or not self.cfg.keepalive
                or len(self.keepalived_conns) >= self.max_keepalived
            ):
                resp.force_close()
            respiter = self.wsgi(environ, resp.start_response)
            try:
                if isinstance(respiter, environ["wsgi.file_wrapper"]):
                    resp.write_file(respiter)
                else:
                    for item in respiter:
                        resp.write(item)
                resp.close()
            finally:
                request_time = datetime.now(UTC) - request_start
                self.log.access(resp, req, environ, request_time)
                if hasattr(respiter, "close"):
                    respiter.close()
            if resp.should_close():
                self.log.debug("Closing connection.")
                return False
        except OSError:
            util.reraise(*sys.exc_info())
        except (Exception, SystemExit):
            if resp and resp.headers_sent:
                # Headers already out: a 500 written now would corrupt the response.
                self.log.exception("Error handling request")
                util.close_graceful(conn.sock)
                raise StopIteration() from None
            raise
        finally:
            try:
                self.cfg.post_request(self, req, environ, resp)
            except Exception:
                self.log.exception("Exception in post_request hook")
        return True

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


class _Finished:
    """What gunicorn's ``finish_request`` reads of a finished future: the result."""

    def __init__(self, result: Any) -> None:
        self._result = result

    def result(self) -> Any:
        return self._result

    def cancelled(self) -> bool:
        return False


class OneSendResponse(wsgi.Response):  # type: ignore[misc]
    """gunicorn's HTTP/1 response, which sends a body given whole with its headers, in one send.

    gunicorn sends the headers, then the body: two system calls and two TCP segments for each
    answer of a few hundred bytes. A body that is all of ``Content-Length`` in one piece (what
    Flask gives) now goes out with them; any other (streamed, chunked, none) goes gunicorn's way.
    """

    headers_sent: bool

    def write(self, arg: bytes) -> None:
        if (
            self.headers_sent
            or self.chunked
            or self._omits_body
            or type(arg) is not bytes
            or self.response_length != len(arg)
        ):
            super().write(arg)
            return
        # send_headers() without the send
        lines = self.default_headers()
        lines.extend([f"{k}: {v}\r\n" for k, v in self.headers])
        head = util.to_bytestring("{}\r\n".format("".join(lines)), "latin-1")
        self.headers_sent = True
        self.sent += len(arg)
        util.write(self.sock, head + arg)


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
