"""The app factory, the error format and the operational routes."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from sqlalchemy import text

from provider.app import create_app
from provider.config import Settings
from provider.errors import NotFound


def assert_error(response, status: int, code: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert isinstance(body, dict)
    assert set(body) == {"errors"}
    (error,) = body["errors"]
    assert isinstance(error["title"], str)
    assert error["title"]
    assert isinstance(error["code"], str)
    assert error["code"]
    if code is not None:
        assert error["code"] == code
    return error


def test_unknown_route_is_json_404(client) -> None:  # type: ignore[no-untyped-def]
    assert_error(client.get("/no/such/route"), 404, "not_found")


def test_wrong_method_is_json_405(client) -> None:  # type: ignore[no-untyped-def]
    assert_error(client.post("/healthz"), 405, "method_not_allowed")


def test_app_error_renders_in_error_format(app: Flask) -> None:
    @app.get("/boom-not-found")
    def boom() -> None:
        raise NotFound("No such thing.")

    error = assert_error(app.test_client().get("/boom-not-found"), 404, "not_found")
    assert error["title"] == "No such thing."


def test_unexpected_exception_is_generic_500_without_details(
    settings: Settings, session_factory
) -> None:  # type: ignore[no-untyped-def]
    app = create_app(
        settings.with_(testing=False), session_factory=session_factory, configure_logs=False
    )

    @app.get("/crash")
    def crash() -> None:
        raise RuntimeError("secret internal detail")

    response = app.test_client().get("/crash")
    error = assert_error(response, 500, "internal_error")
    assert "secret" not in response.get_data(as_text=True)
    assert "Traceback" not in error["title"]


def test_healthz(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_reports_head_revision(client) -> None:  # type: ignore[no-untyped-def]
    from provider.migrate import head_revision

    response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["revision"] == head_revision()


def test_readyz_503_when_database_unreachable(settings: Settings) -> None:
    app = create_app(
        settings.with_(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none"),
        configure_logs=False,
    )
    assert_error(app.test_client().get("/readyz"), 503, "database_unavailable")


def test_readyz_503_when_migrations_pending(settings: Settings, databases) -> None:  # type: ignore[no-untyped-def]
    url = databases.create(migrated=False)
    app = create_app(settings.with_(database_url=url), configure_logs=False)
    assert_error(app.test_client().get("/readyz"), 503, "migrations_pending")


def test_request_id_is_echoed_or_generated(client) -> None:  # type: ignore[no-untyped-def]
    assert (
        client.get("/healthz", headers={"X-Request-Id": "abc-123"}).headers["X-Request-Id"]
        == "abc-123"
    )
    generated = client.get("/healthz").headers["X-Request-Id"]
    assert len(generated) == 32
    forged = client.get("/healthz", headers={"X-Request-Id": "x" * 500}).headers["X-Request-Id"]
    assert forged != "x" * 500


@pytest.mark.parametrize(
    "forged",
    [
        "abc level=ERROR client_key=jira:victim",
        'abc" injected="1',
        "abc\tdef",
        "abc\u00a0def",
        "",
    ],
)
def test_a_request_id_that_could_write_log_fields_is_replaced(client, forged: str) -> None:  # type: ignore[no-untyped-def]
    answered = client.get("/healthz", headers={"X-Request-Id": forged}).headers["X-Request-Id"]
    assert answered != forged
    assert re.fullmatch(r"[0-9a-f]{32}", answered)


@pytest.mark.parametrize("size", [2_000_000])
def test_oversized_body_is_413_in_error_format(client, size: int) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/healthz", data=b"x" * size, content_type="application/json")
    assert response.status_code in (405, 413)
    assert_error(response, response.status_code)


def test_json_nested_too_deeply_is_malformed_not_a_crash(app: Flask) -> None:
    from flask import request

    @app.post("/probe/silent")
    def silent() -> dict[str, bool]:
        return {"parsed": request.get_json(silent=True) is not None}

    @app.post("/probe/strict")
    def strict() -> dict[str, bool]:
        return {"parsed": request.get_json() is not None}

    client = app.test_client()
    deep = b"[" * 100_000 + b"]" * 100_000
    assert client.post("/probe/silent", data=deep, content_type="application/json").json == {
        "parsed": False
    }
    assert_error(client.post("/probe/strict", data=deep, content_type="application/json"), 400)
    shallow = b"[" * 50 + b"]" * 50
    assert client.post("/probe/silent", data=shallow, content_type="application/json").json == {
        "parsed": True
    }


def test_database_outage_is_503_with_retry_after(settings: Settings) -> None:
    app = create_app(
        settings.with_(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none"),
        configure_logs=False,
    )

    @app.get("/needs-db")
    def needs_db() -> dict[str, str]:
        from provider.db import get_session

        get_session().execute(text("SELECT 1"))
        return {"status": "ok"}

    response = app.test_client().get("/needs-db")
    assert_error(response, 503, "database_unavailable")
    assert response.headers["Retry-After"] == "5"
