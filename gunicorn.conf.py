"""gunicorn settings for the web process (Procfile ``web``, ``provider web``, ``provider run``)."""

import os

from gunicorn.glogging import Logger

from provider.logging import redact_url

# A PaaS routes to $PORT on every interface; `provider run` sets HOST=127.0.0.1 for a laptop.
bind = f"{os.environ.get('HOST') or '0.0.0.0'}:{os.environ.get('PORT') or '8000'}"  # noqa: S104
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "4"))
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = "-"


class RedactingLogger(Logger):
    """gunicorn's logger, with page JWTs removed from the request line and the Referer."""

    def atoms(self, resp, req, environ, request_time):  # type: ignore[no-untyped-def]
        atoms = super().atoms(resp, req, environ, request_time)
        return {k: redact_url(v) if isinstance(v, str) else v for k, v in atoms.items()}


logger_class = RedactingLogger
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(L)ss request_id=%({x-request-id}o)s'
# PaaS routers terminate TLS and forward; trust their X-Forwarded-* headers.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")
# Keep the raw request URI (RAW_URI) untouched: qsh verification needs it byte for byte.
# Every worker listens on a socket of its own (SO_REUSEPORT) and the kernel spreads new connections
# across them. With one shared socket, the worker that wakes first accepts a whole burst of
# keep-alive connections (a PaaS router's, a load generator's) and keeps them for their lifetime,
# leaving the other cores idle: measured, that halved the throughput of Jira's calls.
reuse_port = True


def on_starting(server):  # type: ignore[no-untyped-def]
    """Refuse to start when something already listens on the port.

    With ``reuse_port`` a second server of the same user would otherwise share the port silently
    and receive half of the connections.
    """
    import socket

    for address in server.cfg.address:
        if not isinstance(address, tuple):
            continue  # a Unix socket or an inherited descriptor
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address[:2])
            except OSError as e:
                raise SystemExit(
                    f"cannot listen on {address[0]}:{address[1]}: {e.strerror}"
                    " (is another server running on this port?)"
                ) from None


def when_ready(server):  # type: ignore[no-untyped-def]
    # With reuse_port the master holds no socket, so gunicorn's own "Listening at" line is empty.
    for address in server.cfg.address:
        if isinstance(address, tuple):
            server.log.info("Listening at: http://%s:%s (a socket per worker)", *address[:2])
