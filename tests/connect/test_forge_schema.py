"""The manifest ``provider forge-manifest`` writes, checked by Forge's own package.

``@forge/manifest`` is Atlassian's package (its licence does not let us redistribute it), so it is
not vendored: ``.ci/run`` installs the pinned version from npm into the git-ignored ``.ci/node``,
and these tests install it the same way when it is missing. They skip only where node or npm is
absent.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

from provider.config import Settings
from provider.connect import descriptor
from provider.connect.forge import FORGE_ACTIONS
from provider.connect.forge import manifest_for
from provider.connect.forge import to_yaml

VERSION = "13.7.0"
PREFIX = Path(__file__).resolve().parents[2] / ".ci" / "node"
PACKAGE = PREFIX / "node_modules" / "@forge" / "manifest"
# The package's validators need tslib, which the Forge CLI provides and the package does not
# declare; the pin keeps the run reproducible.
INSTALL = ["npm", "install", "--no-save", "--ignore-scripts", "--no-audit", "--no-fund"]
PACKAGES = [f"@forge/manifest@{VERSION}", "tslib@2.9.1"]
APP_ID = "ari:cloud:ecosystem::app/6f1c2a9e-7d3b-4c55-9a0e-2b8f4e7d1c30"
BEANS = {
    "jiraOperationsInfoProvider": "operationsInfoProviderActionsBean",
    "jiraDevOpsComponentProvider": "devOpsComponentProviderActionsBean",
}
# Runs the package's FullValidationProcessor, what `forge lint` and `forge deploy` run.
NODE_CHECK = """
const { FullValidationProcessor } = require(process.argv[1]);
new FullValidationProcessor({ deprecatedRuntimes: [] }).process(process.argv[2]).then((r) => {
  const errors = (r.errors || []).filter((e) => e.level === "error").map((e) => e.message);
  process.stdout.write(JSON.stringify({ success: r.success, errors }));
});
"""


@cache
def _package() -> Path:
    if not (PACKAGE / "package.json").is_file():
        if shutil.which("npm") is None or shutil.which("node") is None:
            pytest.skip(f"node and npm are needed to fetch @forge/manifest {VERSION}")
        done = subprocess.run(
            [*INSTALL, "--prefix", str(PREFIX), *PACKAGES],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, f"npm could not install @forge/manifest: {done.stderr}"
    assert json.loads((PACKAGE / "package.json").read_text())["version"] == VERSION
    return PACKAGE


@cache
def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        (_package() / "out" / "schema" / "manifest-schema.json").read_text()
    )
    return schema


def _errors(schema: dict[str, Any], instance: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in Draft7Validator(schema).iter_errors(instance)
    ]


def _module_schema(module_type: str) -> dict[str, Any]:
    """The schema Forge keeps for one Connect module type (the top level does not apply it)."""
    return {
        "definitions": _schema()["definitions"],
        "$ref": f"#/definitions/ModuleSchema/properties/connect-{module_type}",
    }


@pytest.fixture(params=["https://ops.example.com", "https://example.com/ops"])
def manifest(settings: Settings, request: pytest.FixtureRequest) -> dict[str, Any]:
    parsed: dict[str, Any] = yaml.safe_load(
        to_yaml(manifest_for(settings.with_(base_url=request.param), app_id=APP_ID))
    )
    return parsed


def test_the_schema_accepts_the_manifest(manifest: dict[str, Any]) -> None:
    assert _errors(_schema(), manifest) == []


def test_every_connect_module_is_one_the_schema_knows_and_valid(manifest: dict[str, Any]) -> None:
    known = _schema()["definitions"]["ModuleSchema"]["properties"]
    for module_type, entries in manifest["connectModules"].items():
        assert f"connect-{module_type}" in known, module_type
        assert _errors(_module_schema(module_type), entries) == [], module_type


def test_provider_modules_carry_every_action_the_schema_knows_and_nothing_else(
    settings: Settings, manifest: dict[str, Any]
) -> None:
    definitions = _schema()["definitions"]
    rendered = descriptor.load(settings)
    for module_type, bean in BEANS.items():
        schema_actions = set(definitions[bean]["properties"])
        assert schema_actions == FORGE_ACTIONS[module_type]
        (entry,) = manifest["connectModules"][f"jira:{module_type}"]
        served = set(rendered["modules"][module_type]["actions"])
        assert set(entry["actions"]) == served & schema_actions
        assert set(definitions[bean]["required"]) <= set(entry["actions"])
    operations = manifest["connectModules"]["jira:jiraOperationsInfoProvider"][0]
    assert "createPostIncidentReview" not in operations["actions"]


def test_remote_key_fits_forges_limit(manifest: dict[str, Any]) -> None:
    limit = _schema()["definitions"]["RemotesSchema"]["items"]["properties"]["key"]["maxLength"]
    keys = [remote["key"] for remote in manifest["remotes"]]
    assert keys == [manifest["app"]["connect"]["remote"]]
    assert all(len(key) <= limit for key in keys), (keys, limit)


def test_every_scope_is_one_forge_knows(manifest: dict[str, Any]) -> None:
    known = set(json.loads((_package() / "out" / "scopes" / "shipyard-scopes.json").read_text()))
    assert set(manifest["permissions"]["scopes"]) <= known


def test_forges_own_validators_accept_the_manifest(
    manifest: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "manifest.yml"
    path.write_text(to_yaml(manifest), encoding="utf-8")
    done = subprocess.run(
        ["node", "-e", NODE_CHECK, str(_package() / "out" / "index.js"), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"success": True, "errors": []}
