"""The intake views remember resolved keys for a few seconds, and no longer than that.

A remembered key is refused as soon as this app commits a change to it, and within the window
when another process does; a key never reads what another key resolved to.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from provider.app import create_app
from provider.config import Settings
from provider.ops.access.http import ACCESS
from provider.ops.access.keys import KeyMemory
from provider.ops.access.principal import ApiPrincipal
from provider.ops.alerts.models import AlertRequest
from provider.ops.workspaces.models import Workspace
from provider.ops.workspaces.service import rotate_api_key
from tests.ops.conftest import Api
from tests.ops.conftest import make_api
from tests.ops.test_integrations_api import as_integration
from tests.ops.test_integrations_api import new_integration


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _app(settings: Settings, factory: sessionmaker[Session], **changes: Any) -> Flask:
    return create_app(settings.with_(**changes), session_factory=factory, configure_logs=False)


def _memory(app: Flask) -> KeyMemory:
    return ACCESS.of(app).keys


def _send(api: Api, alias: str = "disk") -> int:
    return api.post("/v1/alerts", json={"message": "disk full", "alias": alias}).status_code


def _requests_of(session: Session, workspace: Workspace) -> list[str]:
    session.expire_all()
    rows = session.query(AlertRequest).filter_by(workspace_id=workspace.id)
    return sorted(r.alias or "" for r in rows)


def test_a_key_is_looked_up_once_within_the_window(api: Api, app: Flask) -> None:
    assert _send(api, "a") == 202
    assert len(_memory(app)) == 1
    assert _send(api, "b") == 202
    assert api.post("/v2/alerts", json={"message": "opsgenie path"}).status_code == 202
    assert len(_memory(app)) == 1


def test_a_workspace_key_rotated_elsewhere_is_refused_once_the_window_ends(
    settings: Settings, session: Session, session_factory: sessionmaker[Session], connection: Any
) -> None:
    app = _app(settings, session_factory)
    clock = Clock()
    _memory(app).clock = clock
    api = make_api(app.test_client(), session, session_factory, "Rotated")
    assert _send(api) == 202
    # Another process (the CLI) rotates the key: its sessions are not this app's.
    elsewhere = sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
    with elsewhere() as other:
        rotate_api_key(other, other.get(Workspace, api.workspace.id) or api.workspace)
        other.commit()
    assert _send(api) == 202  # remembered: the documented window
    clock.now += settings.api_key_cache_seconds
    assert _send(api) == 401
    assert api.get("/v1/alerts").status_code == 401


def test_a_workspace_key_rotated_by_this_app_is_refused_at_once(
    api: Api, app: Flask, session: Session
) -> None:
    assert _send(api) == 202
    workspace = session.get(Workspace, api.workspace.id)
    assert workspace is not None
    new_key = rotate_api_key(session, workspace)
    session.commit()
    assert _send(api) == 401
    assert len(_memory(app)) == 0
    assert _send(Api(api.client, api.workspace, new_key, api.session_factory)) == 202


def test_an_integration_rotated_disabled_or_deleted_is_refused_at_once(api: Api) -> None:
    created = new_integration(api, name="Grafana", type="API")
    path = f"/v1/integrations/{created['id']}"
    key = as_integration(api, created["apiKey"])
    assert _send(key) == 202

    assert api.patch(path, json={"allowWriteAccess": False}).status_code == 200
    assert _send(key) == 403
    assert api.patch(path, json={"allowWriteAccess": True}).status_code == 200
    assert _send(key) == 202

    assert api.patch(path, json={"enabled": False}).status_code == 200
    assert _send(key) == 403
    events = key.post(f"{path}/events", json={"message": "x"})
    assert events.status_code == 403
    assert api.patch(path, json={"enabled": True}).status_code == 200
    assert _send(key) == 202

    rotated = api.post(f"{path}/rotate-api-key").get_json()["apiKey"]
    assert _send(key) == 401
    key = as_integration(api, rotated)
    assert _send(key) == 202
    assert api.delete(path).status_code == 200
    assert _send(key) == 401


def test_each_key_reads_only_what_it_resolved_to(
    api: Api, other_api: Api, session: Session
) -> None:
    for n in range(3):
        assert _send(api, f"mine-{n}") == 202
        assert _send(other_api, f"theirs-{n}") == 202
    assert _requests_of(session, api.workspace) == ["mine-0", "mine-1", "mine-2"]
    assert _requests_of(session, other_api.workspace) == ["theirs-0", "theirs-1", "theirs-2"]
    # Same prefix, one character off: a different hash, never a remembered principal.
    near = api.key[:-1] + ("a" if api.key[-1] != "a" else "b")
    assert _send(Api(api.client, api.workspace, near, api.session_factory)) == 401


def test_another_workspaces_integration_key_cannot_send_its_events(
    api: Api, other_api: Api
) -> None:
    mine = new_integration(api, name="Mine", type="API")
    theirs = new_integration(other_api, name="Theirs", type="API")
    their_key = as_integration(other_api, theirs["apiKey"])
    assert _send(their_key) == 202  # remembered now
    response = their_key.post(f"/v1/integrations/{mine['id']}/events", json={"message": "x"})
    assert response.status_code == 404
    own = as_integration(api, mine["apiKey"])
    assert own.post(f"/v1/integrations/{theirs['id']}/events", json={}).status_code == 404


def test_a_failed_key_is_not_remembered(api: Api, app: Flask) -> None:
    bogus = Api(api.client, api.workspace, "wsk_" + "x" * 40, api.session_factory)
    assert _send(bogus) == 401
    assert len(_memory(app)) == 0


def test_no_memory_when_the_window_is_zero(
    settings: Settings, session: Session, session_factory: sessionmaker[Session]
) -> None:
    app = _app(settings, session_factory, api_key_cache_seconds=0)
    api = make_api(app.test_client(), session, session_factory, "Unremembered")
    assert _send(api) == 202
    assert len(_memory(app)) == 0


def test_the_memory_is_bounded_and_hands_out_copies() -> None:
    memory = KeyMemory(60, max_entries=2)
    for n in range(3):
        principal = ApiPrincipal(Workspace(id=n, name=f"w{n}"), key_id=str(n))
        memory.remember(f"digest-{n}", principal, generation=memory.generation)
    assert len(memory) == 1  # full at the third: it started over
    first, second = memory.recall("digest-2"), memory.recall("digest-2")
    assert first is not None
    assert second is not None
    assert first.workspace.id == 2
    assert first.key_id == "2"
    assert first.workspace is not second.workspace
    assert memory.recall("digest-0") is None


def test_a_lookup_that_raced_a_change_is_not_remembered() -> None:
    memory = KeyMemory(60)
    looked_up_at = memory.generation
    memory.forget_all()  # a change committed while the key was being looked up
    memory.remember("digest", ApiPrincipal(Workspace(id=1, name="w")), generation=looked_up_at)
    assert memory.recall("digest") is None
    memory.remember("digest", ApiPrincipal(Workspace(id=1, name="w")), generation=memory.generation)
    assert memory.recall("digest") is not None
