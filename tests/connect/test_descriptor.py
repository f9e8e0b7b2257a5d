"""The served descriptor: the repository's template with only the placeholders filled in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from provider.app import create_app
from provider.config import Settings
from provider.connect import descriptor
from provider.connect.descriptor import DescriptorError

TEMPLATE = Path(__file__).resolve().parents[2] / "atlassian-connect.json"


@pytest.fixture
def served(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/atlassian-connect.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    return response.get_json()


def test_descriptor_identity_and_security(served: dict[str, Any], settings: Settings) -> None:
    assert served["key"] == settings.app_key
    assert served["name"] == settings.app_name
    assert served["baseUrl"] == settings.base_url
    assert served["authentication"] == {"type": "jwt"}
    assert served["apiMigrations"] == {"signed-install": True, "context-qsh": True}
    assert served["scopes"] == ["READ", "WRITE", "DELETE"]
    assert served["lifecycle"] == {
        "installed": "/installed",
        "uninstalled": "/uninstalled",
        "enabled": "/enabled",
        "disabled": "/disabled",
    }


def test_descriptor_modules(served: dict[str, Any], settings: Settings) -> None:
    base = settings.base_url
    modules = served["modules"]
    ops = modules["jiraOperationsInfoProvider"]
    assert ops["actions"] == {
        "fetchWorkspaces": {"templateUrl": f"{base}/workspaces/list"},
        "searchContainers": {"templateUrl": f"{base}/containers/search"},
        "createPostIncidentReview": {
            "url": f"{base}/reviews/new?component={{component-id}}&incident={{incident-id}}"
        },
    }
    components = modules["jiraDevOpsComponentProvider"]
    assert components["actions"] == {
        "associate": {"templateUrl": f"{base}/components/associate"},
        "disassociate": {"templateUrl": f"{base}/components/disassociate"},
        "onEntityAssociated": {"templateUrl": f"{base}/components/on-entity-associated"},
        "onEntityDisassociated": {"templateUrl": f"{base}/components/on-entity-disassociated"},
    }
    for module in (ops, components):
        assert module["name"] == {"value": settings.app_name}
        assert module["homeUrl"] == base
        assert len(module["key"]) <= 100
    assert [page["url"] for page in modules["adminPages"]] == ["/admin"]
    assert modules["configurePage"]["url"] == "/admin"


def test_every_placeholder_is_filled(served: dict[str, Any]) -> None:
    assert "{{" not in json.dumps(served)


def test_action_urls_are_routes_of_the_app(client: FlaskClient, served: dict[str, Any]) -> None:
    """Each declared action answers (401 without a token), never 404."""
    base = served["baseUrl"]
    for module in ("jiraOperationsInfoProvider", "jiraDevOpsComponentProvider"):
        for action in served["modules"][module]["actions"].values():
            if "templateUrl" not in action:
                continue
            path = action["templateUrl"].removeprefix(base)
            method = "get" if path == "/containers/search" else "post"
            assert getattr(client, method)(path).status_code == 401, path
    for path in served["lifecycle"].values():
        assert client.post(path, json={}).status_code == 400


def test_values_with_quotes_cannot_break_the_document(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    odd = settings.with_(app_name='Ops "Provider" {{appKey}}', app_key="ops-key")
    app = create_app(odd, session_factory=session_factory, configure_logs=False)
    served = app.test_client().get("/atlassian-connect.json").get_json()
    assert served["name"] == 'Ops "Provider" {{appKey}}'


def test_serving_never_mutates_the_descriptor(client: FlaskClient, settings: Settings) -> None:
    template = json.loads(TEMPLATE.read_text())
    first = client.get("/atlassian-connect.json").get_json()
    second = client.get("/atlassian-connect.json").get_json()
    assert first == second
    assert first == descriptor.render(template, settings)
    assert json.loads(TEMPLATE.read_text()) == template
    # Nothing is added: the served document has exactly the template's keys.
    assert set(first) == set(template)
    assert set(first["modules"]) == set(template["modules"])


def test_unknown_placeholder_fails_at_start_up(settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "atlassian-connect.json"
    bad.write_text('{"key": "{{appKey}}", "x": "{{surprise}}"}')
    with pytest.raises(DescriptorError, match="surprise"):
        descriptor.load(settings, bad)
    with pytest.raises(DescriptorError, match="not found"):
        descriptor.load(settings, tmp_path / "missing.json")
