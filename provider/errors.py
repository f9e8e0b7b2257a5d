"""The error format of the app: ``{"errors": [{"title": …, "code": …}]}``.

Domain code raises :class:`AppError` subclasses; :func:`register_error_handlers` turns them, and
every other failure, into that body with the right status. Nothing else builds error bodies.
A path prefix may be given a body of its own (:func:`register_error_format`): the Opsgenie
paths answer in Opsgenie's shape, since the clients that call them parse nothing else.

A browser is a client too: a request that prefers ``text/html`` to JSON (what a browser's address
bar sends) gets a page instead (:func:`register_error_page`), with the same status. Every other
client, anything that accepts JSON as much as HTML or says nothing, and the paths other products
call (:func:`keep_error_format`), get the body above.
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
from flask.typing import ResponseReturnValue
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

    def __init_subclass__(cls, *, status: int | None = None, code: str | None = None) -> None:
        super().__init_subclass__()
        if status is not None:
            cls.status = status
        if code is not None:
            cls.code = code


class BadRequest(AppError, status=400, code="bad_request"): ...


class Unauthorized(AppError, status=401, code="unauthorized"): ...


class Forbidden(AppError, status=403, code="forbidden"): ...


class NotFound(AppError, status=404, code="not_found"): ...


class Conflict(AppError, status=409, code="conflict"): ...


class PayloadTooLarge(AppError, status=413, code="payload_too_large"): ...


class ValidationFailed(AppError, status=422, code="validation_failed"): ...


class TooManyRequests(AppError, status=429, code="rate_limited"): ...


class ServiceUnavailable(AppError, status=503, code="unavailable"): ...


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


# (status, code, title) -> a page for a person.
ErrorPage = Callable[[int, str, str], ResponseReturnValue]
_PAGE = "provider.error_page"
_KEPT = "provider.error_format_kept"


def register_error_page(app: Flask, render: ErrorPage) -> None:
    """Answer the errors of a request that prefers HTML to JSON with ``render``'s page."""
    app.extensions[_PAGE] = render


def keep_error_format(app: Flask, keep: Callable[[], bool]) -> None:
    """Never answer a request for which ``keep()`` is true with a page: its caller parses JSON."""
    app.extensions.setdefault(_KEPT, []).append(keep)


def _prefers_html() -> bool:
    # Strictly: "*/*", no Accept header, or JSON and HTML alike all mean JSON.
    accept = request.accept_mimetypes
    return accept["text/html"] > accept["application/json"]


def _page_of_request() -> ErrorPage | None:
    render: ErrorPage | None = current_app.extensions.get(_PAGE)
    if render is None or not _prefers_html():
        return None
    if any(keep() for keep in current_app.extensions.get(_KEPT, [])):
        return None
    return render


def error_response(
    status: int, code: str, title: str, details: Mapping[str, Any] | None = None
) -> Response:
    render = _format_of_request()
    if render is not None:
        response = jsonify(render(status, code, title, dict(details or {})))
    elif has_request_context() and (page := _page_of_request()) is not None:
        response = current_app.make_response(page(status, code, title))
    else:
        response = jsonify(body(code, title, details))
    response.status_code = status
    if has_request_context() and current_app.extensions.get(_PAGE) is not None:
        # The same URL answers a browser and an API client differently: caches must keep both.
        response.vary.add("Accept")
    return response


def _no_password_dialog(response: Response) -> None:
    """A page explains how to authenticate; a Basic challenge would hide it behind a dialog."""
    challenges = [
        c.strip()
        for c in response.headers.get("WWW-Authenticate", "").split(",")
        if c.strip() and not c.strip().lower().startswith("basic")
    ]
    response.headers["WWW-Authenticate"] = ", ".join(challenges) or 'JWT realm="provider"'


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
            if response.mimetype == "text/html":
                _no_password_dialog(response)
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
