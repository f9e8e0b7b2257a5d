"""The Forge ``manifest.yml`` that carries this app's Connect modules (Connect on Forge).

It is built from the rendered descriptor, so the descriptor template stays the one source of the
modules, their URLs and the scopes. Module URLs become relative to the ``connect`` remote, whose
``baseUrl`` is the app's ``BASE_URL``; Jira resolves them against it, as it resolves a Connect
descriptor's against its ``baseUrl``.

The manifest also declares one Forge Remote ``endpoint`` that Forge invokes with a Forge
Invocation Token (hourly, and when the app is installed or upgraded): each invocation brings the
installation's current app system token, which the app keeps for calls made without an inbound
request. What the manifest may hold is what ``@forge/manifest`` 13.7.0 accepts; a test validates it
against that package's schema.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from provider.config import Settings
from provider.connect import descriptor

REMOTE_KEY = "connect"
APP_ID_PLACEHOLDER = "ari:cloud:ecosystem::app/00000000-0000-0000-0000-000000000000"
# Forge requires a runtime even when all code runs on the remote; nothing runs in it here.
RUNTIME = "nodejs24.x"
# Connect scope → Forge permission; the scopes of the descriptor are mapped one to one.
SCOPES = {
    "READ": "read:connect-jira",
    "WRITE": "write:connect-jira",
    "DELETE": "delete:connect-jira",
    "PROJECT_ADMIN": "project-admin:connect-jira",
    "ADMIN": "admin:connect-jira",
    "ACT_AS_USER": "act-as-user:connect-jira",
    "ACCESS_EMAIL_ADDRESSES": "access-email-addresses:connect-jira",
}
# Forge's own scopes: receiving the app system token at the remote, and what that token would
# need on the Operations and DevOps Components APIs. Jira does not document those APIs as open to
# Forge apps yet; ``provider forge-probe`` tells whether a site accepts the token.
FORGE_SCOPES = (
    "read:app-system-token",
    "read:operations-info:jira",
    "write:operations-info:jira",
    "delete:operations-info:jira",
    "read:devops-component-info:jira",
    "write:devops-component-info:jira",
    "delete:devops-component-info:jira",
)
# The actions the manifest schema knows for each provider module (its operationsInfoProvider- and
# devOpsComponentProviderActionsBean); an action it does not know, such as the operations module's
# createPostIncidentReview, is left out of the manifest.
FORGE_ACTIONS = {
    "jiraOperationsInfoProvider": frozenset(
        {"fetchWorkspaces", "searchContainers", "onEntityAssociated", "onEntityDisassociated"}
    ),
    "jiraDevOpsComponentProvider": frozenset(
        {"associate", "disassociate", "onEntityAssociated", "onEntityDisassociated"}
    ),
}
LIFECYCLE_KEY = "lifecycle-events"
INVOCATIONS_ENDPOINT = "forge-invocations"
INVOCATIONS_PATH = "/forge/invocations"
LIFECYCLE_EVENTS = ("avi:forge:installed:app", "avi:forge:upgraded:app")


class ManifestError(Exception):
    """The descriptor uses something this manifest cannot carry (e.g. an unknown scope)."""


def _relative(value: Any, base_url: str) -> Any:
    if isinstance(value, str) and value.startswith(base_url + "/"):
        return value[len(base_url) :]
    if isinstance(value, list):
        return [_relative(v, base_url) for v in value]
    if isinstance(value, dict):
        return {k: _relative(v, base_url) for k, v in value.items()}
    return value


def build_manifest(rendered: Mapping[str, Any], *, app_id: str | None = None) -> dict[str, Any]:
    """The manifest for a rendered descriptor.

    :raises ManifestError: for a scope that has no Forge equivalent.
    """
    base_url = str(rendered["baseUrl"]).rstrip("/")
    modules: dict[str, list[dict[str, Any]]] = {
        "jira:lifecycle": [{"key": LIFECYCLE_KEY, **dict(rendered.get("lifecycle") or {})}]
    }
    for module_type, value in (rendered.get("modules") or {}).items():
        entries = value if isinstance(value, list) else [value]
        modules[f"jira:{module_type}"] = [
            _known_actions(module_type, _relative(dict(e), base_url)) for e in entries
        ]
    scopes = []
    for scope in rendered.get("scopes") or []:
        if scope not in SCOPES:
            raise ManifestError(f"the Connect scope {scope!r} has no Forge permission")
        scopes.append(SCOPES[scope])
    return {
        "app": {
            "id": app_id or APP_ID_PLACEHOLDER,
            "runtime": {"name": RUNTIME},
            "connect": {
                "key": rendered["key"],
                "remote": REMOTE_KEY,
                "authentication": (rendered.get("authentication") or {}).get("type", "jwt"),
            },
        },
        "remotes": [{"key": REMOTE_KEY, "baseUrl": base_url}],
        "permissions": {"scopes": [*scopes, *FORGE_SCOPES]},
        "connectModules": modules,
        "modules": _invocation_modules(),
    }


def _known_actions(module_type: str, entry: dict[str, Any]) -> dict[str, Any]:
    known = FORGE_ACTIONS.get(module_type)
    if known is None or not isinstance(entry.get("actions"), dict):
        return entry
    actions = {name: spec for name, spec in entry["actions"].items() if name in known}
    return {**entry, "actions": actions}


def _invocation_modules() -> dict[str, list[dict[str, Any]]]:
    return {
        "endpoint": [
            {
                "key": INVOCATIONS_ENDPOINT,
                "remote": REMOTE_KEY,
                "route": {"path": INVOCATIONS_PATH},
                "auth": {"appSystemToken": {"enabled": True}},
            }
        ],
        # Background pushes have no inbound request to bring a token: an hourly invocation
        # keeps the stored one fresh, and install and upgrade bring the first one.
        "scheduledTrigger": [
            {"key": "system-token-refresh", "endpoint": INVOCATIONS_ENDPOINT, "interval": "hour"}
        ],
        "trigger": [
            {
                "key": "app-lifecycle",
                "endpoint": INVOCATIONS_ENDPOINT,
                "events": list(LIFECYCLE_EVENTS),
            }
        ],
    }


def manifest_for(settings: Settings, *, app_id: str | None = None) -> dict[str, Any]:
    return build_manifest(descriptor.load(settings), app_id=app_id)


def to_yaml(value: Any, indent: int = 0) -> str:
    """Block-style YAML; every string is a JSON (hence YAML 1.2 double-quoted) scalar.

    Quoting every string keeps values such as ``yes``, ``1.0`` or ``{component-id}`` strings for
    any YAML parser, without a YAML dependency.
    """
    pad = "  " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        if not value:
            return pad + "{}\n"
        for key, item in value.items():
            label = json.dumps(str(key)) if not _plain_key(str(key)) else str(key)
            if isinstance(item, dict | list) and item:
                lines.append(f"{pad}{label}:\n{to_yaml(item, indent + 1)}")
            else:
                lines.append(f"{pad}{label}: {_scalar(item)}\n")
        return "".join(lines)
    if isinstance(value, list):
        if not value:
            return pad + "[]\n"
        for item in value:
            if isinstance(item, dict | list) and item:
                nested = to_yaml(item, indent + 1)
                lines.append(f"{pad}- {nested.lstrip()}")
            else:
                lines.append(f"{pad}- {_scalar(item)}\n")
        return "".join(lines)
    return pad + _scalar(value) + "\n"


def _plain_key(key: str) -> bool:
    return bool(key) and all(ch.isalnum() or ch in "-_:" for ch in key) and key[0].isalpha()


def _scalar(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    # ASCII only: YAML reads raw U+2028 and friends inside quotes as line breaks.
    return json.dumps(value)
