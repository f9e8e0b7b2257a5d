"""Forge Invocation Tokens on the routes Forge may invoke: Forge's pass, every forgery is a 401.

Forge's JWKS is a real server on loopback. Each refused request carries a fresh app system token,
and the installation's row is compared before and after: a refusal changes nothing.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from provider.app import create_app
from provider.config import Settings
from provider.connect.forge import INVOCATIONS_PATH
from provider.connect.models import Installation
from provider.crypto import SecretBox
from tests.conftest import TEST_SECRET_KEY
from tests.connect.test_auth import _b64
from tests.connect.test_auth import hand_signed
from tests.forge import JWKS_PATH
from tests.forge import ForgeSigner
from tests.forge import jwks
from tests.installs import make_installation
from tests.keyserver import KeyServer
from tests.ops.factories import link
from tests.ops.factories import make_component
from tests.ops.factories import make_workspace
from tests.signing import JiraSigner
from tests.signing import RsaKey
from tests.test_app import assert_error

SEARCH = "/containers/search?searchQuery=check"
OLD_SYSTEM_TOKEN = "system-token-from-an-earlier-invocation"


@pytest.fixture
def forge(signer: JiraSigner) -> ForgeSigner:
    return ForgeSigner(cloud_id=signer.cloud_id)


@pytest.fixture
def jwks_server(forge: ForgeSigner) -> Iterator[KeyServer]:
    """Forge's CDN on loopback, publishing the signer's key."""
    with KeyServer() as server:
        server.add(JWKS_PATH, jwks(forge.key))
        yield server


@pytest.fixture
def forge_settings(settings: Settings, forge: ForgeSigner, jwks_server: KeyServer) -> Settings:
    return settings.with_(
        forge_app_id=forge.app_id, forge_jwks_url=f"{jwks_server.url}/{JWKS_PATH}"
    )


@pytest.fixture
def forge_app(forge_settings: Settings, session_factory: sessionmaker[Session]) -> Flask:
    return create_app(forge_settings, session_factory=session_factory, configure_logs=False)


@pytest.fixture
def forge_client(forge_app: Flask) -> FlaskClient:
    return forge_app.test_client()


@pytest.fixture
def installation(session: Session, signer: JiraSigner, forge: ForgeSigner) -> Installation:
    """Installed the Connect-on-Forge way: the install payload carried Forge's installation id."""
    row = make_installation(
        session,
        signer,
        forge_installation_id=forge.installation_id,
        forge_system_token_encrypted=SecretBox(TEST_SECRET_KEY).encrypt(OLD_SYSTEM_TOKEN),
        forge_api_base_url=forge.api_base_url,
    )
    workspace = make_workspace(session)
    link(session, row, workspace)
    make_component(session, workspace, "checkout")
    session.commit()
    return row


def stored(session: Session, installation: Installation) -> dict[str, Any]:
    """Every column of the installation's row, read afresh."""
    session.expire_all()
    row = session.scalars(select(Installation).where(Installation.id == installation.id)).one()
    return {c.key: getattr(row, c.key) for c in Installation.__table__.columns}


def system_token_of(session: Session, installation: Installation) -> str | None:
    encrypted = stored(session, installation)["forge_system_token_encrypted"]
    return None if encrypted is None else SecretBox(TEST_SECRET_KEY).decrypt(encrypted)


def call(client: FlaskClient, endpoint: str, headers: dict[str, str], query: str = "") -> Any:
    if endpoint == "search":
        return client.get(SEARCH + query, headers=headers)
    return client.post(INVOCATIONS_PATH + query, json={}, headers=headers)


# ── what Forge sends is accepted, on the same views as Connect's calls ─────────────────────────


def test_forge_invocation_of_search_is_200_and_keeps_the_new_system_token(
    forge_client: FlaskClient, forge: ForgeSigner, installation: Installation, session: Session
) -> None:
    system_token = forge.system_token()
    response = forge_client.get(
        SEARCH, headers=forge.headers(forge.invocation_token(), system_token)
    )
    assert response.status_code == 200, response.get_json()
    assert [c["name"] for c in response.get_json()["containers"]] == ["checkout"]
    row = stored(session, installation)
    assert system_token not in str(row)
    assert system_token_of(session, installation) == system_token
    assert row["forge_api_base_url"] == forge.api_base_url
    assert row["forge_token_expires_at"] is not None
    assert abs(row["forge_token_expires_at"].timestamp() - (time.time() + 3600)) < 60


def test_every_jira_action_answers_forge_invocations(
    forge_client: FlaskClient, forge: ForgeSigner, installation: Installation
) -> None:
    auth = forge.headers(forge.invocation_token())
    listed = forge_client.post("/workspaces/list", json={"ids": ["nope"]}, headers=auth)
    assert listed.status_code == 200, listed.get_json()
    assert listed.get_json() == {"workspaces": []}
    body = {
        "entity": {"id": "unknown-component"},
        "associatedWith": {"ati": "ati:cloud:jira:project", "id": "10000"},
    }
    for method, path in (
        ("PUT", "/components/on-entity-associated"),
        ("POST", "/components/associate"),
        ("POST", "/components/disassociate"),
    ):
        answer = forge_client.open(path, method=method, json=body, headers=auth)
        # Verified, then judged on its body: the component is not one this site can see.
        assert answer.status_code == 404, (path, answer.get_json())


def test_connect_jwts_still_pass_on_the_same_routes(
    forge_client: FlaskClient, signer: JiraSigner, installation: Installation
) -> None:
    response = signer.get(forge_client, SEARCH)
    assert response.status_code == 200, response.get_json()


def test_the_invocations_endpoint_takes_only_forge_invocations(
    forge_client: FlaskClient,
    forge: ForgeSigner,
    signer: JiraSigner,
    installation: Installation,
    session: Session,
) -> None:
    system_token = forge.system_token()
    answer = forge_client.post(
        INVOCATIONS_PATH, json={}, headers=forge.headers(forge.invocation_token(), system_token)
    )
    assert answer.status_code == 204, answer.get_data(as_text=True)
    assert system_token_of(session, installation) == system_token
    before = stored(session, installation)
    connect = signer.post(forge_client, INVOCATIONS_PATH, json={})
    assert_error(connect, 401, "missing_token")
    assert stored(session, installation) == before


def test_the_same_system_token_again_writes_nothing(
    forge_client: FlaskClient, forge: ForgeSigner, installation: Installation, session: Session
) -> None:
    system_token = forge.system_token()
    first = forge_client.post(
        INVOCATIONS_PATH, json={}, headers=forge.headers(forge.invocation_token(), system_token)
    )
    assert first.status_code == 204
    before = stored(session, installation)
    again = forge_client.post(
        INVOCATIONS_PATH, json={}, headers=forge.headers(forge.invocation_token(), system_token)
    )
    assert again.status_code == 204
    assert stored(session, installation) == before


def test_the_system_token_never_reaches_the_log(
    forge_client: FlaskClient,
    forge: ForgeSigner,
    installation: Installation,
    caplog: pytest.LogCaptureFixture,
) -> None:
    system_token = forge.system_token()
    token = forge.invocation_token()
    with caplog.at_level(logging.DEBUG):
        assert forge_client.get(SEARCH, headers=forge.headers(token, system_token)).status == (
            "200 OK"
        )
        forge_client.get(SEARCH, headers=forge.headers(token[:-4], forge.system_token()))
    assert system_token not in caplog.text
    assert token not in caplog.text


# ── every forgery is a 401 and changes nothing ─────────────────────────────────────────────────

Forgery = Callable[[ForgeSigner, KeyServer, Session, Installation], dict[str, str]]


@functools.cache
def other_key() -> RsaKey:
    """Someone else's key, under the kid of Forge's."""
    return RsaKey.generate("forge-test-key")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _hs256_with_public_key(forge: ForgeSigner, header_alg: str) -> str:
    return hand_signed(
        {"alg": header_alg, "typ": "JWT", "kid": forge.key.kid},
        forge.claims(),
        forge.key.public_pem,
        hashlib.sha256,
    )


def _once_the_row_is(**flags: bool) -> Forgery:
    """Forge's own token, sent once the installation's row has ``flags``."""

    def build(
        f: ForgeSigner, _s: KeyServer, session: Session, inst: Installation
    ) -> dict[str, str]:
        row = session.get(Installation, inst.id)
        assert row is not None
        for name, value in flags.items():
            setattr(row, name, value)
        session.commit()
        return _bearer(f.invocation_token())

    return build


def _unknown_kid_while_the_jwks_is_404(
    f: ForgeSigner, server: KeyServer, *_: object
) -> dict[str, str]:
    server.status = 404
    return _bearer(f.invocation_token(kid="rotated-in-kid"))


FORGERIES: dict[str, tuple[Forgery, str]] = {
    # the acceptance list
    "wrong_aud": (
        lambda f, *_: _bearer(f.invocation_token(aud="ari:cloud:ecosystem::app/someone-else")),
        "invalid_audience",
    ),
    "wrong_iss": (
        lambda f, *_: _bearer(f.invocation_token(iss="forge/other-token")),
        "invalid_issuer",
    ),
    "expired": (
        lambda f, *_: _bearer(f.invocation_token(now=int(time.time()) - 600)),
        "token_expired",
    ),
    "unknown_kid_jwks_404": (_unknown_kid_while_the_jwks_is_404, "forge_keys_unavailable"),
    "alg_none": (
        lambda f, *_: _bearer(
            _b64(b'{"alg":"none","typ":"JWT","kid":"forge-test-key"}')
            + "."
            + _b64(json.dumps(f.claims()).encode())
            + "."
        ),
        "invalid_algorithm",
    ),
    "hs256_signed_with_the_jwks_public_key": (
        lambda f, *_: _bearer(_hs256_with_public_key(f, "HS256")),
        "invalid_algorithm",
    ),
    "rs256_header_over_an_hmac_of_the_public_key": (
        lambda f, *_: _bearer(_hs256_with_public_key(f, "RS256")),
        "invalid_signature",
    ),
    "another_apps_token": (
        lambda f, *_: _bearer(
            f.invocation_token(
                aud="ari:cloud:ecosystem::app/another-app",
                app={"id": "ari:cloud:ecosystem::app/another-app"},
            )
        ),
        "invalid_audience",
    ),
    "installation_not_installed_here": (
        lambda f, *_: _bearer(
            f.invocation_token(app={"installationId": "ari:cloud:ecosystem::installation/x"})
        ),
        "unknown_installation",
    ),
    "uninstalled_installation": (_once_the_row_is(installed=False), "unknown_installation"),
    # and the rest of what could go wrong
    "disabled_installation": (_once_the_row_is(enabled=False), "unknown_installation"),
    "unknown_kid": (
        lambda f, *_: _bearer(f.invocation_token(kid="never-published")),
        "unknown_kid",
    ),
    "no_kid": (lambda f, *_: _bearer(f.invocation_token(kid=None)), "invalid_token"),
    "signed_by_another_key_under_forges_kid": (
        lambda f, *_: _bearer(f.invocation_token(key=other_key())),
        "invalid_signature",
    ),
    "another_site": (
        lambda f, *_: _bearer(
            f.invocation_token(
                context={"cloudId": "other-cloud"},
                app={"apiBaseUrl": "https://api.atlassian.com/ex/jira/other-cloud"},
            )
        ),
        "site_mismatch",
    ),
    "api_base_url_on_another_host": (
        lambda f, *_: _bearer(
            f.invocation_token(app={"apiBaseUrl": f"https://evil.example/ex/jira/{f.cloud_id}"})
        ),
        "invalid_api_base_url",
    ),
    "api_base_url_of_another_site": (
        lambda f, *_: _bearer(
            f.invocation_token(app={"apiBaseUrl": "https://api.atlassian.com/ex/jira/other"})
        ),
        "invalid_api_base_url",
    ),
    "no_installation_id": (
        lambda f, *_: _bearer(f.invocation_token(app={"installationId": None})),
        "invalid_token",
    ),
    "not_yet_valid": (
        lambda f, *_: _bearer(f.invocation_token(nbf=int(time.time()) + 600)),
        "token_not_yet_valid",
    ),
    "ten_hour_lifetime": (
        lambda f, *_: _bearer(f.invocation_token(lifetime=36_000)),
        "lifetime_too_long",
    ),
    "truncated": (lambda f, *_: _bearer(f.invocation_token()[:-10]), "invalid_signature"),
    "garbage": (lambda *_: _bearer("not.a.token"), "invalid_token"),
    "malformed_system_token": (
        lambda f, *_: {**_bearer(f.invocation_token()), "x-forge-oauth-system": "a b"},
        "invalid_system_token",
    ),
}


@pytest.mark.parametrize("forgery", list(FORGERIES))
@pytest.mark.parametrize("endpoint", ["search", "invocations"])
def test_forged_invocations_are_401_and_change_nothing(
    forge_client: FlaskClient,
    forge: ForgeSigner,
    jwks_server: KeyServer,
    installation: Installation,
    session: Session,
    forgery: str,
    endpoint: str,
) -> None:
    build, code = FORGERIES[forgery]
    headers = {"x-forge-oauth-system": forge.system_token()}
    headers.update(build(forge, jwks_server, session, installation))
    before = stored(session, installation)
    assert_error(call(forge_client, endpoint, headers), 401, code)
    assert stored(session, installation) == before
    assert system_token_of(session, installation) == OLD_SYSTEM_TOKEN


def test_a_bearer_and_a_query_token_together_are_401(
    forge_client: FlaskClient, forge: ForgeSigner, installation: Installation
) -> None:
    token = forge.invocation_token()
    assert_error(call(forge_client, "search", _bearer(token), f"&jwt={token}"), 401, "two_tokens")


def test_without_forge_app_id_no_invocation_passes(
    client: FlaskClient, forge: ForgeSigner, installation: Installation
) -> None:
    assert_error(
        call(client, "search", forge.headers(forge.invocation_token())), 401, "forge_not_configured"
    )


def test_the_jwks_is_fetched_once_for_many_invocations(
    forge_client: FlaskClient,
    forge: ForgeSigner,
    jwks_server: KeyServer,
    installation: Installation,
) -> None:
    for _ in range(5):
        response = call(forge_client, "search", forge.headers(forge.invocation_token()))
        assert response.status_code == 200
    assert jwks_server.count(JWKS_PATH) == 1
    # An unknown kid goes back to the JWKS once; the next ones wait for the refresh interval.
    for _ in range(3):
        response = call(forge_client, "search", _bearer(forge.invocation_token(kid="new-kid")))
        assert_error(response, 401, "unknown_kid")
    assert jwks_server.count(JWKS_PATH) <= 2
