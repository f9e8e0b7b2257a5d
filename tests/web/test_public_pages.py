"""The start page and error pages over HTTP: which client gets a page, which gets JSON."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.outbox.models import OutboxMessage
from tests.ops.conftest import Api

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
HTTPS = "https://provider.example.com"


def _get(client: FlaskClient, path: str, accept: str | None = BROWSER) -> Any:
    return client.get(path, headers={"Accept": accept} if accept else {}, base_url=HTTPS)


@pytest.mark.parametrize(
    "accept",
    [BROWSER, "text/html", "text/html, application/json;q=0.5", "application/xhtml+xml, text/html"],
)
def test_a_client_preferring_html_gets_a_page_with_the_status(
    client: FlaskClient, accept: str
) -> None:
    r = _get(client, "/nothing-here", accept)
    assert r.status_code == 404
    assert r.mimetype == "text/html"
    assert "Page not found" in r.text
    assert r.headers["Vary"] == "Accept"
    assert "default-src 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "accept",
    [None, "*/*", "application/json", "application/json, text/html", "text/html;q=0.5, */*"],
)
def test_every_other_client_keeps_the_json_error_body(
    client: FlaskClient, accept: str | None
) -> None:
    r = _get(client, "/nothing-here", accept)
    assert r.status_code == 404
    assert r.mimetype == "application/json"
    [error] = r.get_json()["errors"]
    assert set(error) == {"title", "code"}
    assert error["code"] == "not_found"
    assert r.headers["Vary"] == "Accept"


def test_the_api_shown_to_a_browser_explains_itself_without_a_password_dialog(
    client: FlaskClient,
) -> None:
    r = _get(client, "/v1/alerts")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == 'GenieKey realm="provider"'
    assert "This address is part of the operations API" in r.text
    # The API client is still offered Basic, as the JSM API does.
    r = _get(client, "/v1/alerts", None)
    assert r.headers["WWW-Authenticate"] == 'GenieKey realm="provider", Basic realm="provider"'


def test_paths_others_call_keep_their_formats(client: FlaskClient) -> None:
    assert set(_get(client, "/v2/alerts").get_json()) == {"message", "took", "requestId"}
    for path in (
        "/jsm/ops/api/abc/v1/alerts",
        "/admin",
        "/containers/search",
        "/atlassian-connect.json?x",
    ):
        r = _get(client, path)
        assert r.mimetype == "application/json" or r.status_code == 200, path


def test_what_an_attacker_puts_in_the_path_is_escaped(client: FlaskClient, api: Api) -> None:
    r = _get(client, "/reviews/<script>alert(1)</script>")
    assert r.mimetype == "text/html"
    assert "<script>" not in r.text
    r = _get(client, "/static/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E")
    assert r.status_code == 404
    assert "<img src=x" not in r.text


def test_the_start_page_links_the_descriptor_the_docs_and_health(client: FlaskClient) -> None:
    r = _get(client, "/", None)
    assert r.status_code == 200
    assert r.mimetype == "text/html"
    for href in ("/atlassian-connect.json", "/v1/openapi.json", "/healthz", "/readyz"):
        assert f'href="{href}"' in r.text
        assert client.get(href).status_code == 200
    assert "operations and DevOps-components provider for Jira Cloud" in r.text


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def _signed_in_form(client: FlaskClient, api: Api) -> Any:
    """The new-review form, after signing in with the workspace key."""
    form = _get(client, "/reviews/new")
    client.post(
        "/reviews/sign-in",
        data={"csrf_token": _csrf(form.text), "workspace_key": api.key, "next": "/reviews/new"},
        base_url=HTTPS,
    )
    return _get(client, "/reviews/new")


def test_a_review_description_keeps_lf_line_endings(
    client: FlaskClient, api: Api, session: Session
) -> None:
    from provider.ops.workspaces import linking
    from tests.ops.incident_factories import make_installation

    linking.link_workspace(session, make_installation(session), api_key=api.key)
    session.commit()
    api.create_alert(message="Checkout down", priority="P1", alias="checkout")
    incident = api.get("/v1/incidents").get_json()["values"][0]
    form = _signed_in_form(client, api)
    r = client.post(
        "/reviews",
        data={
            "csrf_token": _csrf(form.text),
            "summary": "PIR",
            "description": "one\r\ntwo\rthree\n",
            "incident": incident["id"],
        },
        base_url=HTTPS,
    )
    assert r.status_code == 303
    shown = _get(client, r.headers["Location"])
    assert "Review saved" in shown.text
    assert "Review saved" not in _get(client, r.headers["Location"]).text
    [message] = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "review"))
    assert message.payload["description"] == "one\ntwo\nthree\n"


def test_a_bad_review_form_comes_back_with_what_is_wrong(client: FlaskClient, api: Api) -> None:
    form = _signed_in_form(client, api)
    r = client.post(
        "/reviews",
        data={"csrf_token": _csrf(form.text), "summary": " ", "description": "<b>kept</b>"},
        base_url=HTTPS,
    )
    assert r.status_code == 422
    assert r.mimetype == "text/html"
    assert "The review was not saved" in r.text
    assert 'id="summary-error">Summary is required.' in r.text
    assert 'id="incident-error">The review must name at least one incident.' in r.text
    # What was typed is kept, escaped.
    assert "&lt;b&gt;kept&lt;/b&gt;</textarea>" in r.text
