"""The error format of the app: ``{"errors": [{"title": …, "code": …}]}``.

Domain code raises :class:`AppError` subclasses; :func:`register_error_handlers` turns them, and
every other failure, into that body with the right status. Nothing else builds error bodies.
A path prefix may be given a body of its own (:func:`register_error_format`): the Opsgenie
paths answer in Opsgenie's shape, since the clients that call them parse nothing else.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

import sqlalchemy.exc
from flask import Flask
from flask import Response
from flask import current_app
from flask import has_request_context
from flask import jsonify
from flask import request
from werkzeug.exceptions import HTTPException

logger = logging.getLogger(__name__)


class AppError(Exception):
    status = 500
    code = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = dict(details or {})
        self.headers = dict(headers or {})


class BadRequest(AppError):
    status, code = 400, "bad_request"


class Unauthorized(AppError):
    status, code = 401, "unauthorized"


class Forbidden(AppError):
    status, code = 403, "forbidden"


class NotFound(AppError):
    status, code = 404, "not_found"


class Conflict(AppError):
    status, code = 409, "conflict"


class PayloadTooLarge(AppError):
    status, code = 413, "payload_too_large"


class ValidationFailed(AppError):
    status, code = 422, "validation_failed"


class TooManyRequests(AppError):
    status, code = 429, "rate_limited"


class ServiceUnavailable(AppError):
    status, code = 503, "unavailable"


def body(code: str, title: str, details: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"errors": [{"title": title, "code": code, **dict(details or {})}]}


# (status, code, title, details) -> the body of an error response.
ErrorFormat = Callable[[int, str, str, Mapping[str, Any]], dict[str, Any]]
_FORMATS = "provider.error_formats"


def register_error_format(app: Flask, prefix: str, render: ErrorFormat) -> None:
    """Answer every error of a path under ``prefix`` with ``render``'s body instead."""
    app.extensions.setdefault(_FORMATS, {})[prefix] = render


def _format_of_request() -> ErrorFormat | None:
    if not has_request_context():
        return None
    formats: dict[str, ErrorFormat] = current_app.extensions.get(_FORMATS, {})
    for prefix, render in formats.items():
        if request.path.startswith(prefix):
            return render
    return None


def error_response(
    status: int, code: str, title: str, details: Mapping[str, Any] | None = None
) -> Response:
    render = _format_of_request()
    if render is None:
        response = jsonify(body(code, title, details))
    else:
        response = jsonify(render(status, code, title, dict(details or {})))
    response.status_code = status
    return response


def _snake(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(AppError)
    def _app_error(e: AppError) -> Response:
        response = error_response(e.status, e.code, e.message, e.details)
        for key, value in e.headers.items():
            response.headers[key] = value
        if e.status == 401:
            response.headers.setdefault("WWW-Authenticate", 'JWT realm="provider"')
        return response

    @app.errorhandler(HTTPException)
    def _http_error(e: HTTPException) -> Response:
        status = e.code or 500
        title = e.description or e.name
        response = error_response(status, _snake(e.name), title)
        if status == 405 and e.response is None:
            allow = getattr(e, "valid_methods", None)
            if allow:
                response.headers["Allow"] = ", ".join(allow)
        return response

    @app.errorhandler(sqlalchemy.exc.OperationalError)
    @app.errorhandler(sqlalchemy.exc.InterfaceError)
    def _database_unavailable(e: sqlalchemy.exc.DBAPIError) -> Response:
        # The database is down or restarting: a client should retry, and nothing was stored.
        logger.error("database unavailable: %s", type(e.orig).__name__ if e.orig else e)
        response = error_response(
            503, "database_unavailable", "The service cannot reach its database; retry shortly."
        )
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(Exception)
    def _unexpected(e: Exception) -> Response:
        logger.error("unhandled error", exc_info=e)
        return error_response(500, "internal_error", "The server hit an unexpected error.")
