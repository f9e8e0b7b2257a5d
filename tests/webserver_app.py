"""A WSGI app for the web server's own tests: answers of each shape gunicorn writes."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

from flask import Flask
from sqlalchemy.orm import sessionmaker

from provider import db


def make_app() -> Flask:
    """The answers below, in a Flask app with sessions as gunicorn.conf.py's hooks expect."""
    flask_app = Flask(__name__)
    db.init_app(flask_app, sessionmaker(bind=db.make_engine("sqlite://")))
    flask_app.wsgi_app = answers  # type: ignore[method-assign]
    return flask_app


def answers(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    if path == "/stream":  # no Content-Length: chunked, in pieces
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (part for part in (b"one,", b"two,", b"three"))
    if path == "/pieces":  # a Content-Length, the body in two pieces
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "6")])
        return [b"abc", b"def"]
    if path == "/empty":
        start_response("204 No Content", [])
        return []
    # the body of a POST is left unread here: the server must drain it before the next request
    body = f"hello {path}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
