"""gunicorn settings for the web process (Procfile ``web``, ``provider web``, ``provider run``)."""

import os
import traceback

from gunicorn.glogging import Logger

from provider.logging import redact_url

# A PaaS routes to $PORT on every interface; `provider run` sets HOST=127.0.0.1 for a laptop.
bind = f"{os.environ.get('HOST') or '0.0.0.0'}:{os.environ.get('PORT') or '8000'}"  # noqa: S104
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# gthread with a shutdown that ends even with slow clients and doubled signals: see the module.
worker_class = "provider.webserver.ThreadWorker"
threads = int(os.environ.get("WEB_THREADS", "4"))
# The app is built once, in the master, and the workers fork from it: the pages of the modules
# they do not touch stay the master's, so a worker's resident size holds only what it uses
# (measured, an idle worker 90.6 MiB without, 71.7 MiB with). A worker that fails to build the
# app no longer loops: a broken app stops gunicorn at start. A SIGHUP restarts the workers on the
# code the master loaded; deployments restart the process instead. See post_fork for the state
# that must not cross the fork.
preload_app = True
timeout = 30
# How long a SIGTERM lets requests in flight finish before the workers go. Below the 10 s after
# which `docker stop` kills, and well below `provider run`'s own 12 s bound.
graceful_timeout = 8
keepalive = 5
accesslog = "-"


ACCESS_LOG_FORMAT = '%(h)s "%(r)s" %(s)s %(b)s %(L)ss request_id=%({x-request-id}o)s'


class RedactingLogger(Logger):
    """gunicorn's logger, with page JWTs removed from the request line and the Referer.

    The access line of ``ACCESS_LOG_FORMAT`` is written directly: gunicorn's generic way builds
    a dictionary of every header and environment variable for each request (a tenth of the CPU
    of a Jira call, measured), to use five of them.
    """

    def atoms(self, resp, req, environ, request_time):  # type: ignore[no-untyped-def]
        atoms = super().atoms(resp, req, environ, request_time)
        return {k: redact_url(v) if isinstance(v, str) else v for k, v in atoms.items()}

    def access(self, resp, req, environ, request_time):  # type: ignore[no-untyped-def]
        if self.cfg.access_log_format != ACCESS_LOG_FORMAT:
            super().access(resp, req, environ, request_time)
            return
        if not self.access_log_enabled:
            return
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        request_id = next((v for k, v in resp.headers if k.lower() == "x-request-id"), "-")
        line = '%s "%s %s %s" %s %s %d.%06ds request_id=%s' % (  # noqa: UP031 (gunicorn's own)
            environ.get("REMOTE_ADDR", "-"),
            environ["REQUEST_METHOD"],
            environ["RAW_URI"],
            environ["SERVER_PROTOCOL"],
            status,
            resp.sent if getattr(resp, "sent", None) is not None else "-",
            request_time.seconds,
            request_time.microseconds,
            request_id,
        )
        try:
            self.access_log.info("%s", redact_url(line))
        except Exception:
            self.error(traceback.format_exc())


logger_class = RedactingLogger
access_log_format = ACCESS_LOG_FORMAT
# PaaS routers terminate TLS and forward; trust their X-Forwarded-* headers.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")
# Keep the raw request URI (RAW_URI) untouched: qsh verification needs it byte for byte.
# Every worker listens on a socket of its own (SO_REUSEPORT) and the kernel spreads new connections
# across them. With one shared socket, the worker that wakes first accepts a whole burst of
# keep-alive connections (a PaaS router's, a load generator's) and keeps them for their lifetime,
# leaving the other cores idle: measured, that halved the throughput of Jira's calls.
reuse_port = True
# gunicorn opens a control socket for `gunicornc` at one path per user (~/.gunicorn/gunicorn.ctl)
# unless told otherwise, so every instance on a machine shares it: a starting instance unlinks
# and takes over the other's socket, a stopping one deletes whichever socket is there now, and
# `gunicornc` may scale or stop the wrong app. Off, unless a path of this instance's own is given.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not control_socket


def on_starting(server):  # type: ignore[no-untyped-def]
    """Refuse to start when something already listens on the port (see ``port_in_use``)."""
    from provider.webserver import port_in_use

    for address in server.cfg.address:
        if not isinstance(address, tuple):
            continue  # a Unix socket or an inherited descriptor
        if problem := port_in_use(address[0], address[1]):
            raise SystemExit(f"{problem}; stop it or set PORT to a free port")


def when_ready(server):  # type: ignore[no-untyped-def]
    # With reuse_port the master holds no socket, so gunicorn's own "Listening at" line is empty.
    for address in server.cfg.address:
        if isinstance(address, tuple):
            server.log.info("Listening at: http://%s:%s (a socket per worker)", *address[:2])


def post_fork(server, worker):  # type: ignore[no-untyped-def]
    # Connections the master's pool may hold must stay the master's: the worker starts a pool
    # of its own, leaving those open for the master (SQLAlchemy's advice for forked engines).
    from sqlalchemy import Engine

    from provider import db

    app = server.app.callable
    if app is None:
        return  # not preloaded: the worker builds an app of its own
    engine = db.SESSIONS.of(app).kw["bind"]
    if isinstance(engine, Engine):
        engine.dispose(close=False)


def post_worker_init(worker):  # type: ignore[no-untyped-def]
    # The app's modules, schemas and compiled statements live as long as the worker: moved out of
    # the collector's generations, a full collection no longer walks them all (a pause of tens of
    # milliseconds in the middle of whichever request triggered it).
    import gc

    gc.freeze()
