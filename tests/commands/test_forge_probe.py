"""``provider forge-probe`` and ``installations set-auth``, as an administrator runs them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from provider.connect.models import Installation
from provider.connect.models import JiraAuth
from provider.crypto import SecretBox
from provider.db import make_engine
from provider.db import make_session_factory
from provider.times import utcnow
from tests.commands.test_core import run_cli
from tests.conftest import TEST_BASE_URL
from tests.conftest import TEST_SECRET_KEY
from tests.installs import make_installation
from tests.recording import Answer
from tests.recording import Recorded
from tests.recording import recording_server
from tests.signing import JiraSigner

TOKEN = "forge-system-token-of-the-dev-site"
LOOPBACK = {"FORGE_API_HOSTS": "127.0.0.1"}


def _site(database_url: str, api_base_url: str | None, **overrides: Any) -> JiraSigner:
    signer = JiraSigner(app_base_url=TEST_BASE_URL)
    values: dict[str, Any] = {"forge_installation_id": "ari:cloud:ecosystem::installation/dev"}
    if api_base_url is not None:
        values.update(
            forge_system_token_encrypted=SecretBox(TEST_SECRET_KEY).encrypt(TOKEN),
            forge_api_base_url=api_base_url,
            forge_token_received_at=utcnow(),
            forge_token_expires_at=utcnow() + timedelta(minutes=50),
        )
    values.update(overrides)
    engine = make_engine(database_url)
    with make_session_factory(engine).begin() as session:
        make_installation(session, signer, **values)
    engine.dispose()
    return signer


def _jira_answering(status_of: Callable[[Recorded], int]) -> Any:
    return recording_server(lambda r: Answer(status_of(r), {"message": "as Jira says"}))


def _judged_on_content(request: Recorded) -> int:
    """A site that took the token: reads answer 200 (the probe component: 404), submissions 400."""
    if request.method == "POST":
        return 400
    return 404 if "/devopscomponents/" in request.raw_path else 200


def test_a_site_that_takes_the_token_on_every_check(fresh_database_url: str) -> None:
    with _jira_answering(_judged_on_content) as jira:
        signer = _site(fresh_database_url, f"{jira.url}/ex/jira/cloud-dev")
        result = run_cli(
            fresh_database_url, "forge-probe", "--site", signer.jira_base_url, env=LOOPBACK
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("accepted") == 4
    assert "set-auth" in result.stdout
    assert {r.headers["Authorization"] for r in jira.requests} == {f"Bearer {TOKEN}"}
    assert [(r.method, r.raw_path) for r in jira.requests] == [
        ("GET", "/ex/jira/cloud-dev/rest/operations/1.0/linkedWorkspaces"),
        ("POST", "/ex/jira/cloud-dev/rest/operations/1.0/bulk"),
        ("GET", "/ex/jira/cloud-dev/rest/devopscomponents/1.0/devopscomponents/forge-probe"),
        ("POST", "/ex/jira/cloud-dev/rest/devopscomponents/1.0/bulk"),
    ]
    assert TOKEN not in result.stdout + result.stderr


def test_a_site_that_refuses_the_token(fresh_database_url: str) -> None:
    with _jira_answering(lambda r: 403 if r.method == "POST" else 200) as jira:
        signer = _site(fresh_database_url, f"{jira.url}/ex/jira/cloud-dev")
        result = run_cli(
            fresh_database_url, "forge-probe", "--site", signer.client_key, env=LOOPBACK
        )
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.count("refused") >= 2
    assert "as Jira says" in result.stdout
    assert "Connect JWTs" in result.stdout


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ({}, "no Forge system token received yet"),
        ({"forge_token_expires_at": utcnow() - timedelta(minutes=5)}, "expired"),
    ],
    ids=["none", "expired"],
)
def test_without_a_usable_token_the_probe_says_why(
    fresh_database_url: str, token: dict[str, Any], expected: str
) -> None:
    with recording_server() as jira:
        signer = _site(fresh_database_url, None if not token else f"{jira.url}/ex/jira/c", **token)
        result = run_cli(fresh_database_url, "forge-probe", "--site", signer.cloud_id, env=LOOPBACK)
    assert result.returncode == 2, result.stdout + result.stderr
    assert expected in result.stdout
    assert jira.requests == []


def test_set_auth_switches_a_site_between_connect_and_forge(fresh_database_url: str) -> None:
    signer = _site(fresh_database_url, None)

    def auth() -> JiraAuth:
        engine = make_engine(fresh_database_url)
        with make_session_factory(engine)() as session:
            row = session.scalars(
                select(Installation).where(Installation.client_key == signer.client_key)
            ).one()
            value = row.jira_auth
        engine.dispose()
        return value

    assert auth() is JiraAuth.CONNECT
    switched = run_cli(
        fresh_database_url, "installations", "set-auth", "--site", signer.client_key, "forge"
    )
    assert switched.returncode == 0, switched.stderr
    assert "waits for the next Forge invocation" in switched.stdout
    assert auth() is JiraAuth.FORGE
    back = run_cli(
        fresh_database_url, "installations", "set-auth", "--site", signer.client_key, "connect"
    )
    assert back.returncode == 0, back.stderr
    assert auth() is JiraAuth.CONNECT
    unknown = run_cli(fresh_database_url, "installations", "set-auth", "--site", "nope", "forge")
    assert unknown.returncode != 0
    assert "no installation matches" in unknown.stderr
