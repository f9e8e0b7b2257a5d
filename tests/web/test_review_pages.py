"""The review pages over HTTP: sign in with the workspace key, write a review, save it."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from provider.app import create_app
from provider.config import Settings
from provider.ops.incidents.models import Review
from provider.ops.workspaces import linking
from provider.outbox.models import OutboxMessage
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
    linking.link_workspace(session, inst, api_key=api.key)
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


def test_wrong_keys_are_rate_limited_but_the_right_key_still_signs_in(
    api: Api, client: FlaskClient
) -> None:
    page = _get(client, "/reviews/new")
    token = _csrf(page.text)
    for _ in range(10):
        r = _post(client, "/reviews/sign-in", {"csrf_token": token, "workspace_key": "nope"})
        assert r.status_code == 401
    r = _post(client, "/reviews/sign-in", {"csrf_token": token, "workspace_key": "nope"})
    assert r.status_code == 429
    assert r.headers["Retry-After"]
    # Someone else behind the same address (or the guesser's victim) is not locked out.
    r = _post(client, "/reviews/sign-in", {"csrf_token": token, "workspace_key": api.key})
    assert r.status_code == 303


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


# ── outside review: sign-in and session findings ───────────────────────────────────────────────


def _guess(client: FlaskClient, token: str, forwarded_for: str) -> Any:
    return client.post(
        "/reviews/sign-in",
        data={"csrf_token": token, "workspace_key": "wsk_guess"},
        base_url=HTTPS,
        headers={"X-Forwarded-For": forwarded_for},
    )


def test_behind_a_router_one_guesser_does_not_lock_out_other_clients(
    settings: Settings, session_factory: sessionmaker[Session], api: Api
) -> None:
    app = create_app(
        settings.with_(proxy_hops=1), session_factory=session_factory, configure_logs=False
    )
    attacker, colleague = app.test_client(), app.test_client()
    token = _csrf(attacker.get("/reviews/new", base_url=HTTPS).text)
    for _ in range(10):
        assert _guess(attacker, token, "203.0.113.7").status_code == 401
    assert _guess(attacker, token, "203.0.113.7").status_code == 429
    other = _csrf(colleague.get("/reviews/new", base_url=HTTPS).text)
    assert _guess(colleague, other, "198.51.100.20").status_code == 401


def test_failed_sign_ins_racing_in_parallel_cannot_pass_the_limit(
    settings: Settings, fresh_database_url: str
) -> None:
    app = create_app(settings.with_(database_url=fresh_database_url), configure_logs=False)
    token = _csrf(app.test_client().get("/reviews/new", base_url=HTTPS).text)

    def attempt(_n: int) -> int:
        with app.test_client() as client:
            client.get("/reviews/new", base_url=HTTPS)  # the CSRF cookie of this browser
            page = client.get("/reviews/new", base_url=HTTPS)
            return _guess(client, _csrf(page.text), "-").status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(attempt, range(40)))
    assert token
    assert statuses.count(401) == 10
    assert statuses.count(429) == 30


def test_signing_out_ends_the_session_on_the_server(api: Api, client: FlaskClient) -> None:
    _sign_in(client, api, "/reviews/new")
    stolen = client.get_cookie("provider_reviews", domain="provider.example.com")
    assert stolen is not None
    page = _get(client, "/reviews/new")
    assert "Sign out" in page.text
    r = _post(client, "/reviews/sign-out", {"csrf_token": _csrf(page.text)})
    assert r.status_code == 303

    replay = client.application.test_client()
    replay.set_cookie("provider_reviews", stolen.value, domain="provider.example.com")
    assert "Sign in" in replay.get("/reviews/new", base_url=HTTPS).text


@pytest.mark.parametrize(
    "target",
    [
        "/reviews/new\r\nSet-Cookie: x=1",
        "/reviews/new\nLocation: https://evil.example",
        "/reviews/new\t",
        "/reviews/\u2028new",
    ],
)
def test_a_next_parameter_with_control_characters_is_ignored(
    api: Api, client: FlaskClient, target: str
) -> None:
    page = _get(client, "/reviews/new")
    assert (
        client.get("/reviews/sign-in", query_string={"next": target}, base_url=HTTPS).status_code
        == 200
    )
    r = _post(
        client,
        "/reviews/sign-in",
        {"csrf_token": _csrf(page.text), "workspace_key": api.key, "next": target},
    )
    assert r.status_code == 303
    assert r.headers["Location"].endswith("/reviews/new")
    assert "\n" not in r.headers["Location"]
