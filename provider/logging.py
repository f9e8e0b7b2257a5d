"""Logging to stdout, one line per event, with the request id and the installation's client key.

Never log a JWT, a shared secret or an API key: :func:`redact` drops those from any mapping.
"""

from __future__ import annotations

import contextvars
import logging
import logging.config
import re
import sys
from collections.abc import Mapping
from typing import Any

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
client_key_var: contextvars.ContextVar[str] = contextvars.ContextVar("client_key", default="-")

SECRET_KEYS = frozenset(
    {
        "sharedsecret",
        "shared_secret",
        "jwt",
        "token",
        "authorization",
        "apikey",
        "api_key",
        "password",
        "secret",
        "key",
        "linkcode",
        "link_code",
        "oauthclientid",
    }
)


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.client_key = client_key_var.get()
        return True


def configure_logging(level: str = "INFO") -> None:
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "filters": {"context": {"()": ContextFilter}},
            "formatters": {
                "line": {
                    "format": "%(asctime)s %(levelname)s %(name)s request_id=%(request_id)s "
                    "client_key=%(client_key)s %(message)s"
                }
            },
            "handlers": {
                "stdout": {
                    "class": "logging.StreamHandler",
                    "stream": sys.stdout,
                    "formatter": "line",
                    "filters": ["context"],
                }
            },
            "root": {"level": level, "handlers": ["stdout"]},
            "loggers": {"werkzeug": {"level": "WARNING"}},
        }
    )


def redact(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of ``data`` without secret-bearing keys, recursively."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key.replace("-", "_").lower() in SECRET_KEYS:
            out[key] = "[redacted]"
        elif isinstance(value, Mapping):
            out[key] = redact(value)
        else:
            out[key] = value
    return out


# ``jwt=`` in a query string (Jira's page loads) or in a Referer copied from one: a page token
# replays until it expires, so a log line must never carry it.
_TOKEN_IN_URL = re.compile(r"(?i)(\bjwt=)[^&;#\s\"]*")


def redact_url(text: str) -> str:
    """``text`` with the value of every ``jwt=`` parameter replaced."""
    if "jwt=" not in text.lower():
        return text
    return _TOKEN_IN_URL.sub(r"\1[redacted]", text)
