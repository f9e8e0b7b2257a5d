"""Forge's JWKS: keys cached by kid, refetched for an unknown kid at a bounded rate, guarded."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from provider.config import Settings
from provider.config import SettingsError
from provider.connect.forge_keys import HttpForgeKeys
from provider.connect.forge_keys import parse_jwks
from provider.errors import Unauthorized
from tests.conftest import TEST_SECRET_KEY
from tests.forge import JWKS_PATH
from tests.forge import forge_rsa_key
from tests.forge import jwks
from tests.forge import public_jwk
from tests.keyserver import KeyServer
from tests.signing import RsaKey

ENV = {"SECRET_KEY": TEST_SECRET_KEY, "DATABASE_URL": "sqlite:///unused.sqlite3"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server() -> Iterator[KeyServer]:
    with KeyServer() as s:
        s.add(JWKS_PATH, jwks(forge_rsa_key()))
        yield s


def _keys(server: KeyServer, clock: Clock, **kw: object) -> HttpForgeKeys:
    return HttpForgeKeys(f"{server.url}/{JWKS_PATH}", allow_private=True, clock=clock, **kw)  # type: ignore[arg-type]


def test_a_known_kid_is_served_from_the_cache(server: KeyServer) -> None:
    keys = _keys(server, Clock())
    first = keys.public_key(forge_rsa_key().kid)
    assert keys.public_key(forge_rsa_key().kid) is first
    assert server.count(JWKS_PATH) == 1


def test_a_rotated_in_kid_is_fetched_once_the_refresh_interval_passed(server: KeyServer) -> None:
    clock = Clock()
    keys = _keys(server, clock, min_refresh_seconds=10)
    keys.public_key(forge_rsa_key().kid)
    new = RsaKey.generate("rotated-in")
    server.add(JWKS_PATH, jwks(forge_rsa_key(), new))
    with pytest.raises(Unauthorized) as refused:
        keys.public_key(new.kid)  # within the interval: no fetch
    assert refused.value.code == "unknown_kid"
    assert server.count(JWKS_PATH) == 1
    clock.now += 11
    assert keys.public_key(new.kid) is not None
    assert server.count(JWKS_PATH) == 2


def test_a_withdrawn_key_stops_verifying_after_the_next_fetch(server: KeyServer) -> None:
    clock = Clock()
    keys = _keys(server, clock, min_refresh_seconds=10)
    keys.public_key(forge_rsa_key().kid)
    new = RsaKey.generate("replacement")
    server.add(JWKS_PATH, jwks(new))
    clock.now += 11
    keys.public_key(new.kid)
    with pytest.raises(Unauthorized):
        keys.public_key(forge_rsa_key().kid)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, None),
        (500, None),
        (200, b"not json"),
        (200, b'{"keys": "nope"}'),
        (200, b"[]"),
        (200, json.dumps({"keys": [{"kty": "RSA", "kid": "k", "n": "!!", "e": "AQAB"}]}).encode()),
    ],
)
def test_an_unusable_jwks_is_a_401(server: KeyServer, status: int, body: bytes | None) -> None:
    server.status = status if status != 200 else None
    if body is not None:
        server.add(JWKS_PATH, body)
    with pytest.raises(Unauthorized) as refused:
        _keys(server, Clock()).public_key(forge_rsa_key().kid)
    assert refused.value.code in ("forge_keys_unavailable", "unknown_kid")


def test_a_private_key_in_the_jwks_is_not_taken() -> None:
    jwk = {**public_jwk(forge_rsa_key()), "d": "AQAB"}
    assert parse_jwks(json.dumps({"keys": [jwk]}).encode()) == {}


def test_the_jwks_url_goes_through_the_outgoing_url_guard(server: KeyServer) -> None:
    keys = HttpForgeKeys(f"{server.url}/{JWKS_PATH}", allow_private=False)
    with pytest.raises(Unauthorized) as refused:
        keys.public_key(forge_rsa_key().kid)
    assert refused.value.code == "forge_keys_unavailable"
    assert server.count() == 0


def test_a_kid_that_is_no_kid_is_not_fetched(server: KeyServer) -> None:
    with pytest.raises(Unauthorized) as refused:
        _keys(server, Clock()).public_key("../../etc/passwd")
    assert refused.value.code == "invalid_kid"
    assert server.count() == 0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", None),
        (
            "6f1c2a9e-7d3b-4c55-9a0e-2b8f4e7d1c30",
            "ari:cloud:ecosystem::app/6f1c2a9e-7d3b-4c55-9a0e-2b8f4e7d1c30",
        ),
        ("ari:cloud:ecosystem::app/abc-1", "ari:cloud:ecosystem::app/abc-1"),
    ],
)
def test_forge_app_id_setting(raw: str, expected: str | None) -> None:
    assert Settings.from_env({**ENV, "FORGE_APP_ID": raw}).forge_app_id == expected


@pytest.mark.parametrize("raw", ["ari:cloud:ecosystem::app/", "app/x y", "ari:cloud:jira::site/1"])
def test_a_malformed_forge_app_id_is_refused(raw: str) -> None:
    with pytest.raises(SettingsError, match="FORGE_APP_ID"):
        Settings.from_env({**ENV, "FORGE_APP_ID": raw})
