"""Lifecycle callbacks: signed installs are stored; every forged or broken one changes nothing."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from provider.app import create_app
from provider.config import Settings
from provider.connect.api import HOOKS
from provider.connect.install_keys import HttpInstallKeys
from provider.connect.lifecycle import host_allowed
from provider.connect.models import Installation
from provider.connect.models import InstallationState
from provider.crypto import SecretBox
from tests.conftest import TEST_SECRET_KEY
from tests.keyserver import KeyServer
from tests.signing import JiraSigner
from tests.signing import RsaKey
from tests.test_app import assert_error


def stored(session: Session, client_key: str) -> dict[str, Any] | None:
    """Everything stored about a site, read afresh from the database."""
    session.expire_all()
    row = session.scalars(select(Installation).where(Installation.client_key == client_key)).first()
    if row is None:
        return None
    return {**row.to_json(), "secret": row.shared_secret_encrypted, "enabled": row.enabled}


def secret_of(session: Session, client_key: str) -> str:
    session.expire_all()
    row = session.scalars(select(Installation).where(Installation.client_key == client_key)).one()
    return SecretBox(TEST_SECRET_KEY).decrypt(row.shared_secret_encrypted)


def test_signed_install_is_stored(
    connect_client: FlaskClient, signer: JiraSigner, session: Session
) -> None:
    response = signer.lifecycle(connect_client, "installed", installationId="ari:forge:install/1")
    assert response.status_code == 204, response.get_data(as_text=True)
    row = stored(session, signer.client_key)
    assert row is not None
    assert row["state"] == "enabled"
    assert row["baseUrl"] == signer.jira_base_url
    assert row["cloudId"] == signer.cloud_id
    assert secret_of(session, signer.client_key) == signer.shared_secret
    forge_id = session.scalar(
        select(Installation.forge_installation_id).where(
            Installation.client_key == signer.client_key
        )
    )
    assert forge_id == "ari:forge:install/1"


def test_shared_secret_is_encrypted_at_rest(
    connect_client: FlaskClient, signer: JiraSigner, session: Session
) -> None:
    assert signer.lifecycle(connect_client, "installed").status_code == 204
    session.expire_all()
    column = session.execute(
        text("SELECT shared_secret_encrypted FROM installations WHERE client_key = :k"),
        {"k": signer.client_key},
    ).scalar_one()
    assert signer.shared_secret not in column
    assert SecretBox(TEST_SECRET_KEY).decrypt(column) == signer.shared_secret
    with pytest.raises(ValueError, match="SECRET_KEY"):
        SecretBox("another-secret-key-0123456789-abcdefghijklmnop").decrypt(column)


# ── attacks: each must be refused and leave the stored row exactly as it was ────────────────────

NEW_SECRET = "attacker-chosen-secret-0123456789"
Attack = Callable[[JiraSigner, str], dict[str, Any]]


def _hs256_install(signer: JiraSigner, path: str) -> dict[str, Any]:
    # Even signed with the site's current secret: lifecycle installs must be RS256.
    return {"token": signer.request_token("POST", path)}


def _wrong_aud(signer: JiraSigner, path: str) -> dict[str, Any]:
    return {"token": signer.install_token("POST", path, aud="https://evil.example.com")}


def _iss_not_client_key(signer: JiraSigner, path: str) -> dict[str, Any]:
    return {"token": signer.install_token("POST", path, iss="jira:someone-else")}


def _unknown_kid(signer: JiraSigner, path: str) -> dict[str, Any]:
    return {"token": signer.install_token("POST", path, kid="no-such-kid")}


def _missing_kid(signer: JiraSigner, path: str) -> dict[str, Any]:
    return {"token": signer.install_token("POST", path, kid=None)}


def _tampered_qsh(signer: JiraSigner, path: str) -> dict[str, Any]:
    return {"token": signer.install_token("POST", path, qsh=signer.qsh("POST", "/uninstalled"))}


def _expired(signer: JiraSigner, path: str) -> dict[str, Any]:
    issued = int(time.time()) - 3600
    return {"token": signer.install_token("POST", path, now=issued)}


def _other_rsa_key(signer: JiraSigner, path: str) -> dict[str, Any]:
    return {"token": signer.install_token("POST", path, key=RsaKey.generate().private_pem)}


def _alg_none(signer: JiraSigner, path: str) -> dict[str, Any]:
    import jwt as pyjwt

    claims = {"iss": signer.client_key, "aud": signer.app_base_url, "qsh": signer.qsh("POST", path)}
    claims["exp"] = int(time.time()) + 60
    return {"token": pyjwt.encode(claims, None, algorithm="none", headers={"kid": "x"})}


def _unsigned(signer: JiraSigner, path: str) -> dict[str, Any]:
    return {"token": None}


ATTACKS: dict[str, Attack] = {
    "hs256_signed": _hs256_install,
    "wrong_aud": _wrong_aud,
    "iss_differs_from_client_key": _iss_not_client_key,
    "unknown_kid": _unknown_kid,
    "missing_kid": _missing_kid,
    "tampered_qsh": _tampered_qsh,
    "expired": _expired,
    "signed_by_another_rsa_key": _other_rsa_key,
    "alg_none": _alg_none,
    "unsigned_reinstall": _unsigned,
}


@pytest.mark.parametrize("attack", list(ATTACKS), ids=list(ATTACKS))
def test_forged_reinstall_is_refused_and_changes_nothing(
    connect_client: FlaskClient, signer: JiraSigner, session: Session, attack: str
) -> None:
    assert signer.lifecycle(connect_client, "installed").status_code == 204
    before = stored(session, signer.client_key)

    path = signer.lifecycle_path("installed")
    token = ATTACKS[attack](signer, path)["token"]
    headers = signer.auth(token) if token else {}
    body = signer.install_payload(sharedSecret=NEW_SECRET, baseUrl="https://evil.atlassian.net")
    response = connect_client.post(path, json=body, headers=headers)

    assert_error(response, 401)
    assert stored(session, signer.client_key) == before
    assert secret_of(session, signer.client_key) == signer.shared_secret


@pytest.mark.parametrize("attack", ["hs256_signed", "wrong_aud", "unknown_kid", "unsigned"])
def test_forged_first_install_stores_nothing(
    connect_client: FlaskClient, signer: JiraSigner, session: Session, attack: str
) -> None:
    path = signer.lifecycle_path("installed")
    token = ATTACKS.get(attack, _unsigned)(signer, path)["token"]
    response = connect_client.post(
        path, json=signer.install_payload(), headers=signer.auth(token) if token else {}
    )
    assert_error(response, 401)
    assert stored(session, signer.client_key) is None


@pytest.mark.parametrize(
    "base_url",
    [
        "https://evil.example.com",
        "https://acme.atlassian.net.evil.com",
        "https://a.b.atlassian.net",
        "https://atlassian.net",
        "http://acme.atlassian.net",
        "https://user:pw@acme.atlassian.net",
        "not a url",
    ],
)
def test_base_url_outside_allowed_hosts_is_400_and_changes_nothing(
    connect_client: FlaskClient, signer: JiraSigner, session: Session, base_url: str
) -> None:
    """A body Jira would never send is a bad request (400), refused before any key is fetched."""
    assert signer.lifecycle(connect_client, "installed").status_code == 204
    before = stored(session, signer.client_key)
    response = signer.lifecycle(
        connect_client, "installed", baseUrl=base_url, sharedSecret=NEW_SECRET
    )
    error = assert_error(response, 400, "invalid_lifecycle_payload")
    assert "baseUrl" in error["fields"]
    assert stored(session, signer.client_key) == before


def test_event_type_must_match_route(
    connect_client: FlaskClient, signer: JiraSigner, session: Session
) -> None:
    path = signer.lifecycle_path("installed")
    response = connect_client.post(
        path,
        json=signer.install_payload("uninstalled"),
        headers=signer.auth(signer.install_token("POST", path)),
    )
    error = assert_error(response, 400, "invalid_lifecycle_payload")
    assert "eventType" in error["fields"]
    assert stored(session, signer.client_key) is None


@pytest.mark.parametrize("missing", ["clientKey", "sharedSecret", "baseUrl"])
def test_required_fields(connect_client: FlaskClient, signer: JiraSigner, missing: str) -> None:
    path = signer.lifecycle_path("installed")
    body = signer.install_payload()
    del body[missing]
    response = connect_client.post(
        path, json=body, headers=signer.auth(signer.install_token("POST", path))
    )
    assert missing in assert_error(response, 400)["fields"]


def test_key_server_down_is_401(
    settings: Settings, session_factory: sessionmaker[Session], signer: JiraSigner
) -> None:
    server = KeyServer().start()
    url = server.url
    server.stop()  # nothing listens on that port any more
    app = create_app(
        settings.with_(install_keys_url=url), session_factory=session_factory, configure_logs=False
    )
    response = signer.lifecycle(app.test_client(), "installed")
    assert_error(response, 401, "install_key_unavailable")


def test_slow_key_server_times_out_as_401(
    settings: Settings,
    session_factory: sessionmaker[Session],
    signer: JiraSigner,
    key_server: KeyServer,
    session: Session,
) -> None:
    key_server.delay = 2.0
    app = create_app(
        settings,
        session_factory=session_factory,
        install_keys=HttpInstallKeys(key_server.url, timeout=0.2),
        configure_logs=False,
    )
    response = signer.lifecycle(app.test_client(), "installed")
    assert_error(response, 401, "install_key_unavailable")
    assert stored(session, signer.client_key) is None


@pytest.mark.parametrize("status", [500, 301, 403])
def test_key_server_error_status_is_401(
    connect_client: FlaskClient, signer: JiraSigner, key_server: KeyServer, status: int
) -> None:
    key_server.status = status
    assert_error(signer.lifecycle(connect_client, "installed"), 401)


def test_key_is_cached_by_kid(
    connect_client: FlaskClient, settings: Settings, key_server: KeyServer, session: Session
) -> None:
    first = JiraSigner(app_base_url=settings.base_url)
    second = JiraSigner(app_base_url=settings.base_url, jira_base_url="https://beta.atlassian.net")
    assert first.lifecycle(connect_client, "installed").status_code == 204
    assert second.lifecycle(connect_client, "installed").status_code == 204
    assert key_server.count(first.install_key.kid) == 1
    assert stored(session, second.client_key) is not None


def test_kid_cannot_steer_the_key_fetch(
    connect_client: FlaskClient, signer: JiraSigner, key_server: KeyServer
) -> None:
    path = signer.lifecycle_path("installed")
    for kid in ["../admin", "a/b", "x?y=1", "%2e%2e", ""]:
        token = signer.install_token("POST", path, kid=kid)
        response = connect_client.post(
            path, json=signer.install_payload(), headers=signer.auth(token)
        )
        assert_error(response, 401)
    assert key_server.count() == 0


# ── re-install, uninstall, enable/disable ──────────────────────────────────────────────────────


def test_verified_reinstall_replaces_secret_and_reports_reinstalled(
    connect_app: Flask, signer: JiraSigner, session: Session
) -> None:
    calls: list[tuple[str, bool]] = []
    HOOKS.of(connect_app).installed.append(lambda s, inst, re: calls.append((inst.client_key, re)))
    client = connect_app.test_client()
    assert signer.lifecycle(client, "installed").status_code == 204
    signer.shared_secret = "rotated-secret-0123456789abcdefghij"
    assert signer.lifecycle(client, "installed").status_code == 204
    assert secret_of(session, signer.client_key) == "rotated-secret-0123456789abcdefghij"
    assert calls == [(signer.client_key, False), (signer.client_key, True)]
    count = session.scalar(
        select(text("count(*)"))
        .select_from(Installation)
        .where(Installation.client_key == signer.client_key)
    )
    assert count == 1


def test_same_base_url_with_new_client_key_is_a_new_installation(
    connect_client: FlaskClient, settings: Settings, session: Session
) -> None:
    """After a site import the client key changes; the old row is never taken over by URL."""
    old = JiraSigner(app_base_url=settings.base_url)
    new = JiraSigner(app_base_url=settings.base_url)
    assert old.lifecycle(connect_client, "installed").status_code == 204
    assert new.lifecycle(connect_client, "installed").status_code == 204
    assert secret_of(session, old.client_key) == old.shared_secret
    assert secret_of(session, new.client_key) == new.shared_secret


def test_uninstall_keeps_the_row_and_reinstall_revives_it(
    connect_app: Flask, signer: JiraSigner, session: Session
) -> None:
    seen: list[str] = []
    HOOKS.of(connect_app).uninstalled.append(lambda s, inst: seen.append(inst.state.value))
    reinstalled: list[bool] = []
    HOOKS.of(connect_app).installed.append(lambda s, inst, re: reinstalled.append(re))
    client = connect_app.test_client()
    assert signer.lifecycle(client, "installed").status_code == 204
    assert signer.lifecycle(client, "uninstalled").status_code == 204
    row = stored(session, signer.client_key)
    assert row is not None
    assert row["state"] == "uninstalled"
    assert row["uninstalledAt"] is not None
    assert seen == ["uninstalled"]
    assert signer.lifecycle(client, "installed").status_code == 204
    assert stored(session, signer.client_key)["state"] == "enabled"  # type: ignore[index]
    assert reinstalled == [False, True]


def test_uninstall_needs_a_signed_install_token(
    connect_client: FlaskClient, signer: JiraSigner, session: Session
) -> None:
    assert signer.lifecycle(connect_client, "installed").status_code == 204
    path = signer.lifecycle_path("uninstalled")
    hs256 = signer.request_token("POST", path)
    response = connect_client.post(
        path, json=signer.install_payload("uninstalled"), headers=signer.auth(hs256)
    )
    assert_error(response, 401)
    assert stored(session, signer.client_key)["state"] == "enabled"  # type: ignore[index]


@pytest.mark.parametrize("order", [("disabled", "uninstalled"), ("uninstalled", "disabled")])
def test_disabled_and_uninstalled_in_either_order(
    connect_client: FlaskClient, signer: JiraSigner, session: Session, order: tuple[str, str]
) -> None:
    assert signer.lifecycle(connect_client, "installed").status_code == 204
    for event in order:
        assert signer.lifecycle(connect_client, event).status_code == 204
    row = session.scalars(
        select(Installation).where(Installation.client_key == signer.client_key)
    ).one()
    session.refresh(row)
    assert row.state is InstallationState.UNINSTALLED
    assert row.enabled is False


def test_late_enabled_does_not_revive_an_uninstalled_site(
    connect_client: FlaskClient, signer: JiraSigner, session: Session
) -> None:
    assert signer.lifecycle(connect_client, "installed").status_code == 204
    assert signer.lifecycle(connect_client, "uninstalled").status_code == 204
    assert signer.lifecycle(connect_client, "enabled").status_code == 204
    assert stored(session, signer.client_key)["state"] == "uninstalled"  # type: ignore[index]


def test_enabled_and_disabled_accept_the_shared_secret_token(
    connect_client: FlaskClient, signer: JiraSigner, session: Session
) -> None:
    assert signer.lifecycle(connect_client, "installed").status_code == 204
    for event, state in [("disabled", "disabled"), ("enabled", "enabled")]:
        path = signer.lifecycle_path(event)
        token = signer.request_token("POST", path)
        response = signer.lifecycle(connect_client, event, token=token)
        assert response.status_code == 204, response.get_data(as_text=True)
        assert stored(session, signer.client_key)["state"] == state  # type: ignore[index]


def test_disabled_with_a_wrong_secret_changes_nothing(
    connect_client: FlaskClient, signer: JiraSigner, session: Session
) -> None:
    assert signer.lifecycle(connect_client, "installed").status_code == 204
    path = signer.lifecycle_path("disabled")
    token = signer.request_token("POST", path, secret="not-the-secret-0123456789abcdefghij")
    assert_error(signer.lifecycle(connect_client, "disabled", token=token), 401)
    assert stored(session, signer.client_key)["state"] == "enabled"  # type: ignore[index]


def test_lifecycle_for_unknown_site_records_nothing(
    connect_client: FlaskClient, signer: JiraSigner, session: Session
) -> None:
    assert signer.lifecycle(connect_client, "uninstalled").status_code == 204
    assert stored(session, signer.client_key) is None


# ── the host allow-list and hostile bodies ─────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("host", "patterns", "allowed"),
    [
        ("acme.atlassian.net", ["*.atlassian.net"], True),
        ("ACME.Atlassian.NET", ["*.atlassian.net"], True),
        ("acme.atlassian.net.", ["*.atlassian.net"], True),
        ("atlassian.net", ["*.atlassian.net"], False),
        ("a.b.atlassian.net", ["*.atlassian.net"], False),
        ("acme.atlassian.net.evil.com", ["*.atlassian.net"], False),
        ("acmeatlassian.net", ["*.atlassian.net"], False),
        ("x..atlassian.net", ["*.atlassian.net"], False),
        ("127.0.0.1", ["*.atlassian.net", "127.0.0.1"], True),
        ("jira.example.com", ["*.jira.com", "jira.example.com"], True),
        ("", ["*.atlassian.net"], False),
    ],
)
def test_host_allowed(host: str, patterns: list[str], allowed: bool) -> None:
    assert host_allowed(host, patterns) is allowed


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
lifecycle_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "clientKey": json_values,
            "sharedSecret": json_values,
            "baseUrl": st.one_of(json_values, st.just("https://acme.atlassian.net")),
            "eventType": st.one_of(json_values, st.just("installed")),
            "displayUrl": json_values,
            "installationId": json_values,
        },
    ),
)


@hyp_settings(
    max_examples=100,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=lifecycle_bodies,
    token=st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=200),
)
def test_hostile_lifecycle_bodies_never_500(
    connect_client: FlaskClient, signer: JiraSigner, body: Any, token: str
) -> None:
    for event in ("installed", "disabled"):
        path = signer.lifecycle_path(event)
        headers = {"Authorization": "JWT " + token}
        response = connect_client.post(path, json=body, headers=headers)
        assert response.status_code in (400, 401), response.get_data(as_text=True)
        assert_error(response, response.status_code)


def test_logs_never_hold_tokens_or_secrets(
    connect_client: FlaskClient,
    signer: JiraSigner,
    session: Session,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    path = signer.lifecycle_path("installed")
    good = signer.install_token("POST", path)
    assert signer.lifecycle(connect_client, "installed", token=good).status_code == 204
    forged = signer.request_token("POST", path)
    response = connect_client.post(
        path,
        json=signer.install_payload(sharedSecret=NEW_SECRET),
        headers=signer.auth(forged),
    )
    assert response.status_code == 401
    action = signer.request_token("GET", "/containers/search", qsh="wrong")
    assert connect_client.get("/containers/search", headers=signer.auth(action)).status_code == 401
    assert caplog.records, "the refusals above should have been logged"
    for secret in (signer.shared_secret, NEW_SECRET, good, forged, action):
        assert secret not in caplog.text


def test_hooks_run_inside_the_lifecycle_transaction(
    connect_app: Flask, signer: JiraSigner, session: Session
) -> None:
    def mark(s: Session, installation: Installation, reinstalled: bool) -> None:
        assert installation.id is not None
        assert s.get(Installation, installation.id) is installation
        installation.description = f"hooked reinstalled={reinstalled}"

    HOOKS.of(connect_app).installed.append(mark)
    assert signer.lifecycle(connect_app.test_client(), "installed").status_code == 204
    session.expire_all()
    row = session.scalars(
        select(Installation).where(Installation.client_key == signer.client_key)
    ).one()
    assert row.description == "hooked reinstalled=False"


# ── a lifecycle token is spent once (the body is not covered by qsh) ──────────────────────────

ATTACKER_SECRET = "attacker-chosen-secret-0123456789abcdef"


def test_install_token_replayed_with_another_secret_is_refused(
    connect_client: FlaskClient, signer: JiraSigner, session: Session
) -> None:
    path = signer.lifecycle_path("installed")
    token = signer.install_token("POST", path)
    first = connect_client.post(path, json=signer.install_payload(), headers=signer.auth(token))
    assert first.status_code == 204
    before = stored(session, signer.client_key)

    replayed = connect_client.post(
        path,
        json=signer.install_payload(sharedSecret=ATTACKER_SECRET),
        headers=signer.auth(token),
    )

    assert_error(replayed, 401, "token_replayed")
    assert stored(session, signer.client_key) == before
    assert secret_of(session, signer.client_key) == signer.shared_secret
    attacker = dataclasses.replace(signer, shared_secret=ATTACKER_SECRET)
    call = attacker.request_token("GET", "/workspaces/list")
    answer = connect_client.post("/workspaces/list", json={"ids": []}, headers=attacker.auth(call))
    assert answer.status_code == 401


def test_every_lifecycle_event_spends_its_token(
    connect_client: FlaskClient, signer: JiraSigner, session: Session
) -> None:
    assert signer.lifecycle(connect_client, "installed").status_code == 204
    for event in ("disabled", "enabled", "uninstalled"):
        token = signer.install_token("POST", signer.lifecycle_path(event))
        assert signer.lifecycle(connect_client, event, token=token).status_code == 204
        again = signer.lifecycle(connect_client, event, token=token)
        assert_error(again, 401, "token_replayed")


def test_a_token_raced_in_parallel_is_accepted_once(
    connect_settings: Settings, fresh_database_url: str, signer: JiraSigner
) -> None:
    app = create_app(connect_settings.with_(database_url=fresh_database_url), configure_logs=False)
    path = signer.lifecycle_path("installed")
    token = signer.install_token("POST", path)

    def attempt(n: int) -> int:
        body = signer.install_payload(sharedSecret=f"racing-secret-{n:04d}-" + "x" * 24)
        with app.test_client() as client:
            return client.post(path, json=body, headers=signer.auth(token)).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(attempt, range(24)))

    assert statuses.count(204) == 1
    assert set(statuses) == {204, 401}


# ── strangers naming kids cannot make the app hammer the key server ───────────────────────────


def test_an_unknown_kid_is_fetched_once_then_remembered(
    connect_client: FlaskClient, signer: JiraSigner, key_server: KeyServer
) -> None:
    path = signer.lifecycle_path("installed")
    for _ in range(5):
        token = signer.install_token("POST", path, kid="not-a-real-kid")
        response = connect_client.post(
            path, json=signer.install_payload(), headers=signer.auth(token)
        )
        assert_error(response, 401, "unknown_kid")
    assert key_server.count("not-a-real-kid") == 1


def test_new_kids_past_the_fetch_budget_are_refused_without_a_fetch(
    settings: Settings,
    session_factory: sessionmaker[Session],
    signer: JiraSigner,
    key_server: KeyServer,
) -> None:
    keys = HttpInstallKeys(key_server.url, fetches_per_minute=3)
    app = create_app(
        settings, session_factory=session_factory, install_keys=keys, configure_logs=False
    )
    client = app.test_client()
    path = signer.lifecycle_path("installed")
    codes = []
    for n in range(10):
        token = signer.install_token("POST", path, kid=f"probe-{n}")
        response = client.post(path, json=signer.install_payload(), headers=signer.auth(token))
        assert response.status_code == 401
        codes.append(response.get_json()["errors"][0]["code"])

    assert key_server.count() == 3
    assert codes == ["unknown_kid"] * 3 + ["install_key_unavailable"] * 7


def test_a_key_server_that_was_down_is_asked_again(
    connect_client: FlaskClient, signer: JiraSigner, key_server: KeyServer
) -> None:
    key_server.status = 503
    assert_error(signer.lifecycle(connect_client, "installed"), 401)
    key_server.status = 200
    assert signer.lifecycle(connect_client, "installed").status_code == 204


def test_an_install_token_that_lives_for_years_is_refused(
    connect_client: FlaskClient, signer: JiraSigner, session: Session
) -> None:
    path = signer.lifecycle_path("installed")
    token = signer.install_token("POST", path, lifetime=10 * 365 * 86400)
    response = connect_client.post(path, json=signer.install_payload(), headers=signer.auth(token))
    assert_error(response, 401, "lifetime_too_long")
    assert stored(session, signer.client_key) is None
