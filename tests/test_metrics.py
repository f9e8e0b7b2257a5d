"""``/metrics``: only for a scraper with the token, and what it shows comes from real work."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from provider.app import create_app
from provider.config import Settings
from provider.config import SettingsError
from tests.outbox.helpers import make_installation
from tests.outbox.helpers import put

TOKEN = "scrape-token-0123456789abcdef"


@pytest.fixture
def metrics_app(settings: Settings, session_factory: sessionmaker[Session]) -> Flask:
    return create_app(
        settings.with_(metrics_token=TOKEN), session_factory=session_factory, configure_logs=False
    )


def _scrape(client: FlaskClient, token: str = TOKEN) -> str:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    return response.get_data(as_text=True)


def test_without_a_token_setting_there_is_no_metrics_page(client: FlaskClient) -> None:
    response = client.get("/metrics", headers={"Authorization": "Bearer anything"})
    assert response.status_code == 404
    assert response.get_json()["errors"][0]["code"]


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        f"Basic {TOKEN}",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        f"Bearer {TOKEN.upper()}",
        "Bearer " + "é" * 40,
    ],
)
def test_a_wrong_or_missing_token_gets_a_401(metrics_app: Flask, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = metrics_app.test_client().get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.get_json() == {
        "errors": [{"title": "A valid metrics token is required.", "code": "unauthorized"}]
    }
    assert "provider_" not in response.get_data(as_text=True)


def test_a_short_token_setting_is_refused() -> None:
    with pytest.raises(SettingsError, match="METRICS_TOKEN"):
        Settings.from_env({"METRICS_TOKEN": "short", "BASE_URL": "http://127.0.0.1:8000"})


def test_the_backlog_and_the_answers_are_shown(metrics_app: Flask, session: Session) -> None:
    inst = make_installation(session)
    put(session, inst, "incident", "i-1")
    put(session, inst, "component", "c-1")
    session.commit()
    client = metrics_app.test_client()
    assert client.get("/healthz").status_code == 200

    text = _scrape(client)
    assert 'provider_outbox_messages{kind="incident",status="pending"} 1.0' in text
    assert 'provider_outbox_messages{kind="component",status="pending"} 1.0' in text
    assert 'provider_outbox_messages{kind="incident",status="dead"} 0.0' in text
    assert 'provider_http_requests_total{endpoint="healthz",status="200"} 1.0' in text
    assert f'provider_jira_delivery_paused{{site="{inst.client_key}"}} 0.0' in text
    assert "provider_alert_requests_pending 0.0" in text
