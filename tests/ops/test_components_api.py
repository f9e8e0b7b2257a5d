"""``/v1/components``: CRUD, Jira's enums, duplicate names, the fallback, and publishing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.connect.models import Installation
from provider.ops.workspaces.models import WorkspaceLink
from provider.outbox.models import OutboxMessage
from tests.ops.conftest import Api
from tests.test_app import assert_error


@pytest.fixture
def linked(api: Api, session: Session) -> Installation:
    inst = Installation(
        client_key="site-1", base_url="https://site.atlassian.net", shared_secret_encrypted="x"
    )
    session.add(inst)
    session.flush()
    session.add(WorkspaceLink(installation_id=inst.id, workspace_id=api.workspace.id))
    session.commit()
    return inst


def _messages(session: Session, entity_id: str) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.entity_id == entity_id)))


def test_component_lifecycle_is_published(api: Api, session: Session, linked: Installation) -> None:
    created = api.post(
        "/v1/components",
        json={"name": "Checkout", "tier": "Tier 1", "componentType": "Cloud resource"},
    )
    assert created.status_code == 201
    component = created.get_json()
    assert (component["tier"], component["componentType"]) == ("Tier 1", "Cloud resource")
    (message,) = _messages(session, component["id"])
    assert (message.operation, message.installation_id) == ("submit", linked.id)

    updated = api.patch(f"/v1/components/{component['id']}", json={"description": "Pays"})
    assert updated.status_code == 200
    assert updated.get_json()["description"] == "Pays"
    assert _messages(session, component["id"])[0].payload["description"] == "Pays"

    assert api.delete(f"/v1/components/{component['id']}").status_code == 204
    assert _messages(session, component["id"])[0].operation == "delete"
    assert_error(api.get(f"/v1/components/{component['id']}"), 404)


def test_duplicate_name_is_409(api: Api) -> None:
    assert api.post("/v1/components", json={"name": "API"}).status_code == 201
    assert_error(api.post("/v1/components", json={"name": "API"}), 409, "duplicate_name")
    other = api.post("/v1/components", json={"name": "Web"}).get_json()
    assert_error(api.patch(f"/v1/components/{other['id']}", json={"name": "API"}), 409)


def test_fallback_component_exists_and_cannot_be_deleted(api: Api) -> None:
    (fallback,) = api.get("/v1/components").get_json()["values"]
    assert fallback["isFallback"] is True
    assert_error(api.delete(f"/v1/components/{fallback['id']}"), 409, "fallback_component")


def test_list_searches_by_name_and_paginates(api: Api) -> None:
    for name in ("Billing API", "Billing UI", "Search"):
        api.post("/v1/components", json={"name": name})
    body = api.get("/v1/components", query_string={"name": "billing", "size": 1}).get_json()
    assert body["count"] == 2
    assert [c["name"] for c in body["values"]] == ["Billing API"]
    assert "offset=1" in body["links"]["next"]
    assert api.get(body["links"]["next"]).get_json()["values"][0]["name"] == "Billing UI"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": 3},
        {"name": "x" * 256},
        {"name": "ok", "tier": "Tier 9"},
        {"name": "ok", "tier": None},
        {"name": "ok", "componentType": "Microservice"},
        {"name": "ok", "url": "javascript:alert(1)"},
    ],
)
def test_invalid_component_is_422(api: Api, body: dict[str, object]) -> None:
    assert_error(api.post("/v1/components", json=body), 422)


def test_empty_update_is_422(api: Api) -> None:
    component = api.post("/v1/components", json={"name": "X"}).get_json()
    assert_error(api.patch(f"/v1/components/{component['id']}", json={}), 422)


def test_workspaces_cli_creates_lists_and_rotates(fresh_database_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {"DATABASE_URL": fresh_database_url, "INSTANCE_PATH": str(tmp_path), "PATH": ""}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "provider.cli", "workspaces", *args],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )

    created = run("create", "--name", "Ops")
    assert created.returncode == 0, created.stderr
    data = json.loads(created.stdout)
    assert set(data) == {"id", "name", "apiKey", "linkCode"}
    listed = run("list")
    assert json.loads(listed.stdout)["id"] == data["id"]
    assert data["apiKey"] not in listed.stdout
    rotated = json.loads(run("rotate-key", "--workspace", data["id"]).stdout)
    assert rotated["apiKey"] != data["apiKey"]
    missing = run("rotate-key", "--workspace", "nope")
    assert missing.returncode != 0
    assert "No workspace" in missing.stderr
