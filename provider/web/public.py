"""The pages anyone may see: the start page at ``/`` and the error pages a browser gets.

An error answers a browser (a request that prefers HTML to JSON) with a page of the same status
(``provider.errors.register_error_page``); API clients keep the JSON error body. The paths Jira
calls keep it too, whatever they accept: ``keep_error_format`` lists them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from datetime import datetime

from flask import Blueprint
from flask import Flask
from flask import Response
from flask import g
from flask import make_response
from flask import render_template
from flask import request
from werkzeug.http import HTTP_STATUS_CODES

from provider import errors
from provider.extension import SETTINGS
from provider.web import session as web_session

bp = Blueprint(
    "public",
    __name__,
    template_folder="templates",
    static_folder="static/pages",
    static_url_path="/assets",
)

# What a person can do about an error, by status; the error's own title says what happened.
HEADINGS = {
    400: "The request could not be used",
    401: "Authentication required",
    403: "Not allowed",
    404: "Page not found",
    405: "Not available this way",
    413: "Too large",
    422: "The request could not be used",
    429: "Too many requests",
    503: "Temporarily unavailable",
}
API_PREFIXES = ("/v1", "/v2")


@bp.app_context_processor
def _app_name() -> dict[str, str]:
    return {"app_name": SETTINGS.get().app_name}


@bp.app_template_filter("when")
def _when(value: datetime | None) -> str:
    """A time as people read it; pages put the exact ISO time beside it (``datetime``, ``title``)."""
    if value is None:
        return ""
    value = value.astimezone(UTC)
    return f"{value.day} {value:%b %Y, %H:%M} UTC"


@bp.get("/")
def landing() -> Response:
    response = make_response(render_template("public/landing.html", base_url=_base_url()))
    return _page_headers(response)


def _base_url() -> str:
    return SETTINGS.get().base_url.rstrip("/")


def _page_headers(response: Response) -> Response:
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    response.headers["Content-Security-Policy"] = web_session.CSP
    response.headers["X-Frame-Options"] = "DENY"
    return response


def error_page(status: int, code: str, title: str) -> Response:
    """The page of an error, for a browser: what happened, what to do, the request id."""
    heading = HEADINGS.get(status) or (
        "Something went wrong" if status >= 500 else HTTP_STATUS_CODES.get(status, "Error")
    )
    response = make_response(
        render_template(
            "public/error.html",
            status=status,
            code=code,
            heading=heading,
            title=title,
            api=request.path.startswith(API_PREFIXES),
            signed_out=code == "not_signed_in",
            request_id=g.get("request_id", ""),
        ),
        status,
    )
    response.headers["Cache-Control"] = "no-store"
    return _page_headers(response)


def init_app(app: Flask, keep_json: Callable[[], bool]) -> None:
    """Register the pages; ``keep_json()`` names the requests whose callers parse only JSON."""
    app.register_blueprint(bp)
    errors.register_error_page(app, error_page)
    errors.keep_error_format(app, keep_json)
