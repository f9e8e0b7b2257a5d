"""The review pages over HTTP: sign in with the workspace key, write a review, save it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.ops.incidents.models import Review
from provider.ops.workspaces import linking
from provider.outbox.models import OutboxMessage
from tests.conftest import TEST_BASE_URL
from tests.ops.conftest import Api
from tests.ops.contract import contract_errors
from tests.ops.incident_factories import make_installation

HTTPS = "https://provider.example.com"


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def _get(client: FlaskClient, url: str) -> Any:
    return client.get(url, base_url=HTTPS)


def _post(client: FlaskClient, url: str, data: dict[str, Any]) -> Any:
    return client.post(url, data=data, base_url=HTTPS)


def _incident(api: Api, message: str = "Checkout down") -> dict[str, Any]:
    api.create_alert(message=message, priority="P1", alias=message)
    return api.get("/v1/incidents").get_json()["values"][0]


def _sign_in(client: FlaskClient, api: Api, next_url: str) -> str:
    page = _get(client, next_url)
    assert page.status_code == 200
    r = _post(
        client,
        "/reviews/sign-in",
        {"csrf_token": _csrf(page.text), "workspace_key": api.key, "next": next_url},
    )
    assert r.status_code == 303
    assert r.headers["Location"].endswith(next_url)
    return next_url


def test_sign_in_write_and_save_a_review(api: Api, session: Session, client: FlaskClient) -> None:
    inst = make_installation(session)
    linking.link_workspace(session, inst, api_key=api.key, base_url=TEST_BASE_URL)
    session.commit()
    incident = _incident(api)
    url = f"/reviews/new?component={incident['componentIds'][0]}&incident={incident['id']}"

    first = _get(client, url)
    assert "Sign in" in first.text
    cookie = first.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" in cookie
    assert "default-src 'none'" in first.headers["Content-Security-Policy"]

    _sign_in(client, api, url)
    form = _get(client, url)
    assert form.status_code == 200, form.data
    assert "Post-incident review: Checkout down" in form.text
    assert "First seen" in form.text
    r = _post(
        client,
        "/reviews",
        {
            "csrf_token": _csrf(form.text),
            "summary": "PIR: checkout outage",
            "description": "Root cause: pool exhaustion.",
            "status": "in progress",
            "incident": incident["id"],
        },
    )
    assert r.status_code == 303
    review = session.scalars(select(Review)).one()
    assert r.headers["Location"].endswith(f"/reviews/{review.public_id}")
    [message] = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "review")).all()
    assert message.installation_id == inst.id
    assert contract_errors("review.json", message.payload) == []
    assert message.payload["reviews"] == [incident["id"]]
    assert message.payload["summary"] == "PIR: checkout outage"

    shown = _get(client, f"/reviews/{review.public_id}")
    assert "Root cause: pool exhaustion." in shown.text
    r = _post(
        client,
        f"/reviews/{review.public_id}",
        {
            "csrf_token": _csrf(shown.text),
            "summary": "PIR: checkout outage",
            "description": "Root cause: pool exhaustion. Actions: raise pool.",
            "status": "outstanding actions",
            "incident": incident["id"],
        },
    )
    assert r.status_code == 303
    session.expire_all()
    assert session.scalars(select(Review)).one().status.value == "outstanding actions"


def test_writes_without_a_session_are_refused(api: Api, client: FlaskClient) -> None:
    incident = _incident(api)
    page = _get(client, "/reviews/new")
    r = _post(
        client,
        "/reviews",
        {"csrf_token": _csrf(page.text), "summary": "x", "incident": incident["id"]},
    )
    assert r.status_code == 403
    assert r.get_json()["errors"][0]["code"] == "not_signed_in"


def test_wrong_or_missing_csrf_is_refused(api: Api, session: Session, client: FlaskClient) -> None:
    incident = _incident(api)
    _sign_in(client, api, "/reviews/new")
    for token in ("", "forged"):
        r = _post(
            client, "/reviews", {"csrf_token": token, "summary": "x", "incident": incident["id"]}
        )
        assert r.status_code == 403
        assert r.get_json()["errors"][0]["code"] == "csrf_failed"
    assert session.scalars(select(Review)).all() == []


def test_other_workspaces_incident_is_not_found(
    api: Api, other_api: Api, session: Session, client: FlaskClient
) -> None:
    theirs = _incident(other_api, "Their outage")
    _sign_in(client, api, "/reviews/new")
    assert _get(client, f"/reviews/new?incident={theirs['id']}").status_code == 404
    form = _get(client, "/reviews/new")
    r = _post(
        client,
        "/reviews",
        {"csrf_token": _csrf(form.text), "summary": "steal", "incident": theirs["id"]},
    )
    assert r.status_code == 404
    assert session.scalars(select(Review)).all() == []


def test_wrong_key_fails_and_sign_in_is_rate_limited(api: Api, client: FlaskClient) -> None:
    page = _get(client, "/reviews/new")
    token = _csrf(page.text)
    for _ in range(10):
        r = _post(client, "/reviews/sign-in", {"csrf_token": token, "workspace_key": "nope"})
        assert r.status_code == 401
    r = _post(client, "/reviews/sign-in", {"csrf_token": token, "workspace_key": api.key})
    assert r.status_code == 429
    assert r.headers["Retry-After"]


def test_sign_in_never_redirects_off_site(api: Api, client: FlaskClient) -> None:
    page = _get(client, "/reviews/new")
    for target in ("https://evil.example/x", "//evil.example/x"):
        r = _post(
            client,
            "/reviews/sign-in",
            {"csrf_token": _csrf(page.text), "workspace_key": api.key, "next": target},
        )
        assert r.status_code == 303
        assert "evil" not in r.headers["Location"]
        page = _get(client, "/reviews/new")


def test_key_rotation_ends_the_session(api: Api, session: Session, client: FlaskClient) -> None:
    from provider.ops.workspaces.service import rotate_api_key

    _sign_in(client, api, "/reviews/new")
    assert "Sign out" in _get(client, "/reviews/new").text
    rotate_api_key(session, api.workspace)
    session.commit()
    assert "Sign in" in _get(client, "/reviews/new").text


@pytest.mark.parametrize(
    "form",
    [
        {"summary": "", "incident": "x"},
        {"summary": "ok"},
        {"summary": "ok", "incident": "x", "status": "open"},
        {"summary": "x" * 300, "incident": "x"},
    ],
)
def test_bad_forms_are_422(api: Api, client: FlaskClient, form: dict[str, str]) -> None:
    _sign_in(client, api, "/reviews/new")
    page = _get(client, "/reviews/new")
    r = _post(client, "/reviews", {"csrf_token": _csrf(page.text), **form})
    assert r.status_code == 422
