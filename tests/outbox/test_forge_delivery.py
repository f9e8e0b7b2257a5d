"""The outbox in an installation's Forge mode: Bearer with its latest system token at apiBaseUrl."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from provider.config import Settings
from provider.connect.models import Installation
from provider.connect.models import JiraAuth
from provider.crypto import SecretBox
from provider.outbox.models import DeliveryState
from provider.outbox.models import MessageStatus
from provider.outbox.models import OutboxMessage
from provider.outbox.worker import OutboxWorker
from provider.outbox.worker import make_client_factory
from provider.times import utcnow
from tests.conftest import TEST_SECRET_KEY
from tests.outbox.helpers import Clock
from tests.outbox.helpers import make_installation
from tests.outbox.helpers import put
from tests.recording import RecordingServer
from tests.recording import recording_server

TOKEN = "forge-system-token-for-the-site"


@pytest.fixture
def jira() -> Iterator[RecordingServer]:
    with recording_server() as server:
        yield server


def _with_one_incident(session: Session, api_base_url: str, **overrides: Any) -> Installation:
    """A site in Forge mode with one incident waiting for delivery."""
    values: dict[str, Any] = {
        "jira_auth": JiraAuth.FORGE,
        "forge_system_token_encrypted": SecretBox(TEST_SECRET_KEY).encrypt(TOKEN),
        "forge_api_base_url": api_base_url,
        "forge_token_expires_at": utcnow() + timedelta(hours=1),
    }
    values.update(overrides)
    inst = make_installation(session, **values)
    put(session, inst, "incident", "i1")
    session.commit()
    return inst


def _drain(
    session_factory: sessionmaker[Session], settings: Settings, hosts: tuple[str, ...]
) -> None:
    factory = make_client_factory(settings.with_(forge_api_hosts=hosts))
    OutboxWorker(session_factory, factory, clock=Clock(), rng=random.Random(1)).drain()


def _state(session: Session, inst: Installation) -> tuple[DeliveryState | None, list[str]]:
    session.expire_all()
    state = session.scalars(
        select(DeliveryState).where(DeliveryState.installation_id == inst.id)
    ).one_or_none()
    statuses = session.scalars(
        select(OutboxMessage.status).where(OutboxMessage.installation_id == inst.id)
    ).all()
    return state, [str(s) for s in statuses]


def test_a_forge_installation_is_called_with_its_system_token_at_its_api_base_url(
    session: Session, session_factory: sessionmaker[Session], settings: Settings, jira: Any
) -> None:
    inst = _with_one_incident(session, f"{jira.url}/ex/jira/cloud-1")

    _drain(session_factory, settings, ("127.0.0.1",))

    (received,) = jira.requests
    assert (received.method, received.raw_path) == (
        "POST",
        "/ex/jira/cloud-1/rest/operations/1.0/bulk",
    )
    assert received.headers["Authorization"] == f"Bearer {TOKEN}"
    assert _state(session, inst)[1] == []  # delivered messages leave the outbox


@pytest.mark.parametrize(
    "token",
    [
        {"forge_system_token_encrypted": None},
        {"forge_token_expires_at": utcnow() - timedelta(minutes=1)},
    ],
    ids=["none_yet", "expired"],
)
def test_without_a_usable_token_the_site_waits_for_the_next_one(
    session: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    jira: Any,
    token: dict[str, Any],
) -> None:
    inst = _with_one_incident(session, f"{jira.url}/ex/jira/cloud-1", **token)

    _drain(session_factory, settings, ("127.0.0.1",))

    assert jira.requests == []
    state, statuses = _state(session, inst)
    assert statuses == [MessageStatus.PENDING.value]
    assert state is not None
    assert state.not_before is not None
    assert "Forge system token" in (state.last_error or "")
    assert inst.delivery_paused_at is None


def test_an_api_base_url_off_the_allowed_hosts_pauses_the_site(
    session: Session, session_factory: sessionmaker[Session], settings: Settings, jira: Any
) -> None:
    inst = _with_one_incident(session, f"{jira.url}/ex/jira/cloud-1")

    _drain(session_factory, settings, ("api.atlassian.com",))

    assert jira.requests == []
    session.expire_all()
    assert inst.delivery_paused_at is not None
    assert "FORGE_API_HOSTS" in (inst.delivery_paused_reason or "")
