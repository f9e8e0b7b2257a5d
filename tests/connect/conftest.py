from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from provider.app import create_app
from provider.config import Settings
from tests.keyserver import KeyServer
from tests.signing import JiraSigner
from tests.signing import shared_rsa_key


@pytest.fixture
def key_server() -> Iterator[KeyServer]:
    """Atlassian's install-key CDN, on loopback, serving the test signer's key."""
    key = shared_rsa_key()
    with KeyServer() as server:
        server.add(key.kid, key.public_pem)
        yield server


@pytest.fixture
def connect_settings(settings: Settings, key_server: KeyServer) -> Settings:
    return settings.with_(install_keys_url=key_server.url)


@pytest.fixture
def connect_app(connect_settings: Settings, session_factory: sessionmaker[Session]) -> Flask:
    return create_app(connect_settings, session_factory=session_factory, configure_logs=False)


@pytest.fixture
def connect_client(connect_app: Flask) -> FlaskClient:
    return connect_app.test_client()


@pytest.fixture
def signer(settings: Settings) -> JiraSigner:
    return JiraSigner(app_base_url=settings.base_url)
