"""Guessing API keys is slowed per client address and per key prefix; real keys always work."""

from __future__ import annotations

import base64

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from provider.app import create_app
from provider.config import Settings
from tests.ops.conftest import make_api


def _guess(client: FlaskClient, key: str, address: str = "198.51.100.7") -> int:
    response = client.get(
        "/v1/alerts",
        headers={"Authorization": f"GenieKey {key}", "X-Forwarded-For": address},
    )
    return response.status_code


def _app(settings: Settings, session_factory: sessionmaker[Session]) -> Flask:
    return create_app(
        settings.with_(proxy_hops=1), session_factory=session_factory, configure_logs=False
    )


def test_one_address_guessing_keys_is_slowed_but_its_real_key_still_works(
    settings: Settings, session: Session, session_factory: sessionmaker[Session]
) -> None:
    client = _app(settings, session_factory).test_client()
    api = make_api(client, session, session_factory, "Guessed")
    statuses = [_guess(client, f"wsk_guess{n:06d}_" + "x" * 30) for n in range(61)]
    assert statuses[:60] == [401] * 60
    assert statuses[60] == 429
    limited = client.get(
        "/v1/alerts",
        headers={"Authorization": "GenieKey wsk_another_guess", "X-Forwarded-For": "198.51.100.7"},
    )
    assert limited.headers["Retry-After"].isdigit()
    assert limited.get_json()["errors"][0]["code"] == "rate_limited"
    assert _guess(client, api.key) == 200


def test_other_clients_behind_the_same_router_are_not_slowed(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    client = _app(settings, session_factory).test_client()
    for n in range(61):
        _guess(client, f"wsk_a{n:06d}_" + "y" * 30, address="203.0.113.1")
    assert _guess(client, "wsk_b000000_" + "y" * 30, address="203.0.113.2") == 401


def test_one_key_prefix_worked_on_from_many_addresses_is_slowed(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    client = _app(settings, session_factory).test_client()
    prefix = "wsk_KnownPre"
    statuses = [
        _guess(client, f"{prefix}{n:030d}", address=f"192.0.2.{n % 250 + 1}") for n in range(61)
    ]
    assert statuses[:60] == [401] * 60
    assert statuses[60] == 429


def test_basic_auth_guesses_count_the_same(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    client = _app(settings, session_factory).test_client()
    for n in range(60):
        creds = base64.b64encode(f"me@example.com:wsk_{n:08d}_guess".encode()).decode()
        client.get("/v1/alerts", headers={"Authorization": f"Basic {creds}"})
    creds = base64.b64encode(b"me@example.com:wsk_last_guess").decode()
    assert client.get("/v1/alerts", headers={"Authorization": f"Basic {creds}"}).status_code == 429
