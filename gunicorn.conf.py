"""gunicorn settings for the web process (Procfile ``web``, ``provider web``, ``provider run``)."""

import os

# A PaaS routes to $PORT on every interface; `provider run` sets HOST=127.0.0.1 for a laptop.
bind = f"{os.environ.get('HOST') or '0.0.0.0'}:{os.environ.get('PORT') or '8000'}"  # noqa: S104
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "4"))
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(L)ss request_id=%({x-request-id}o)s'
# PaaS routers terminate TLS and forward; trust their X-Forwarded-* headers.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")
# Keep the raw request URI (RAW_URI) untouched: qsh verification needs it byte for byte.
