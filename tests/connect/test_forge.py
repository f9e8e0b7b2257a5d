"""Connect on Forge: the manifest declares what the descriptor declares, and Forge installs work."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import yaml
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.config import Settings
from provider.connect import descriptor
from provider.connect.forge import FORGE_ACTIONS
from provider.connect.forge import FORGE_SCOPES
from provider.connect.forge import SCOPES
from provider.connect.forge import ManifestError
from provider.connect.forge import build_manifest
from provider.connect.forge import manifest_for
from provider.connect.forge import to_yaml
from provider.connect.models import Installation
from tests.conftest import TEST_SECRET_KEY
from tests.signing import JiraSigner


def _absolute(value: Any, base_url: str) -> Any:
    """Resolve the manifest's relative URLs against the remote, as Jira does."""
    if isinstance(value, str) and value.startswith("/"):
        return urljoin(base_url + "/", value.lstrip("/"))
    if isinstance(value, list):
        return [_absolute(v, base_url) for v in value]
    if isinstance(value, dict):
        return {k: _absolute(v, base_url) for k, v in value.items()}
    return value


def _forge_known(module_type: str, entry: dict[str, Any]) -> dict[str, Any]:
    known = FORGE_ACTIONS.get(module_type)
    if known is None:
        return entry
    return {**entry, "actions": {k: v for k, v in entry["actions"].items() if k in known}}


def _parsed(settings: Settings) -> dict[str, Any]:
    return yaml.safe_load(to_yaml(manifest_for(settings)))


@pytest.mark.parametrize("base_url", ["https://ops.example.com", "https://example.com/ops"])
def test_manifest_declares_the_descriptors_modules_urls_and_scopes(
    settings: Settings, base_url: str
) -> None:
    settings = settings.with_(base_url=base_url)
    rendered = descriptor.load(settings)
    manifest = _parsed(settings)

    assert manifest["app"]["connect"]["key"] == rendered["key"]
    remote = manifest["remotes"][0]
    assert remote == {"key": manifest["app"]["connect"]["remote"], "baseUrl": rendered["baseUrl"]}
    assert manifest["permissions"]["scopes"] == [
        *(SCOPES[s] for s in rendered["scopes"]),
        *FORGE_SCOPES,
    ]

    modules = manifest["connectModules"]
    lifecycle = modules.pop("jira:lifecycle")
    assert len(lifecycle) == 1
    assert {k: v for k, v in lifecycle[0].items() if k != "key"} == rendered["lifecycle"]
    assert set(modules) == {f"jira:{name}" for name in rendered["modules"]}
    for name, value in rendered["modules"].items():
        expected = [_forge_known(name, e) for e in (value if isinstance(value, list) else [value])]
        assert _absolute(modules[f"jira:{name}"], remote["baseUrl"]) == _absolute(
            expected, remote["baseUrl"]
        )
    # Both provider modules and both admin pages, with the URLs the app serves.
    assert {"jira:jiraOperationsInfoProvider", "jira:jiraDevOpsComponentProvider"} <= set(modules)
    assert modules["jira:adminPages"][0]["url"] == "/admin"
    assert modules["jira:configurePage"][0]["url"] == "/admin"
    actions = modules["jira:jiraOperationsInfoProvider"][0]["actions"]
    assert actions["fetchWorkspaces"]["templateUrl"] == "/workspaces/list"
    # Forge's schema has no createPostIncidentReview; the descriptor keeps it for Connect.
    assert "createPostIncidentReview" not in actions
    assert (
        "createPostIncidentReview" in rendered["modules"]["jiraOperationsInfoProvider"]["actions"]
    )


def test_yaml_keeps_every_string_a_string() -> None:
    tricky = {"a": ["yes", "1.0", "null", "{x}", "- y", "#z", "é \u2028", ""], "b": {}, "c": []}
    assert yaml.safe_load(to_yaml(tricky)) == tricky


def test_a_scope_without_a_forge_permission_is_an_error(settings: Settings) -> None:
    rendered = descriptor.load(settings)
    with pytest.raises(ManifestError, match="NOPE"):
        build_manifest({**rendered, "scopes": ["READ", "NOPE"]})


def test_forge_manifest_command_writes_the_file(tmp_path: Path, database_url: str) -> None:
    out = tmp_path / "manifest.yml"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": database_url,
        "BASE_URL": "https://ops.example.com",
        "SECRET_KEY": TEST_SECRET_KEY,
        "FORGE_APP_ID": "ari:cloud:ecosystem::app/1234",
    }
    result = subprocess.run(
        [sys.executable, "-m", "provider.cli", "forge-manifest", "--output", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    manifest = yaml.safe_load(out.read_text())
    assert manifest["app"]["id"] == "ari:cloud:ecosystem::app/1234"
    assert manifest["remotes"] == [{"key": "connect", "baseUrl": "https://ops.example.com"}]


def test_a_forge_install_keeps_its_installation_id_across_reinstalls(
    connect_client: FlaskClient, signer: JiraSigner, session: Session
) -> None:
    forge_id = "ari:cloud:ecosystem::installation/5f1c2f4e-0000-4000-8000-000000000001"
    response = signer.lifecycle(connect_client, "installed", installationId=forge_id)
    assert response.status_code == 204, response.get_data(as_text=True)
    # A later install event (an app update) without the field does not forget it.
    assert signer.lifecycle(connect_client, "installed").status_code == 204
    session.expire_all()
    stored = session.scalar(
        select(Installation.forge_installation_id).where(
            Installation.client_key == signer.client_key
        )
    )
    assert stored == forge_id


def test_uninstall_drops_the_forge_system_token(
    connect_client: FlaskClient, signer: JiraSigner, session: Session
) -> None:
    forge_id = "ari:cloud:ecosystem::installation/5f1c2f4e-0000-4000-8000-000000000002"
    assert signer.lifecycle(connect_client, "installed", installationId=forge_id).status_code == 204
    row = session.scalars(
        select(Installation).where(Installation.client_key == signer.client_key)
    ).one()
    row.forge_system_token_encrypted = "encrypted-token"
    row.forge_api_base_url = "https://api.atlassian.com/ex/jira/x"
    session.commit()

    assert signer.lifecycle(connect_client, "uninstalled").status_code == 204

    session.expire_all()
    assert row.forge_system_token_encrypted is None
    assert row.forge_token_expires_at is None
    assert row.forge_installation_id == forge_id  # data kept, as the rest of the row is
