"""What the simulated Jira sites know: installations, linked workspaces, entities and counters.

Everything lives in memory behind one re-entrant lock (:attr:`World.lock`); callers hold it for
every read-modify-write, so the threaded server and the test thread never see half an update.
"""

from __future__ import annotations

import copy
import secrets
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from dataclasses import field
from typing import Any

# The three kinds of entity the site stores, named after the request arrays that carry them.
KINDS = ("incidents", "reviews", "devopsComponents")

# Connect scopes are cumulative: DELETE includes WRITE, WRITE includes READ.
SCOPE_IMPLIES = {
    "READ": {"READ"},
    "WRITE": {"READ", "WRITE"},
    "DELETE": {"READ", "WRITE", "DELETE"},
    "PROJECT_ADMIN": {"READ", "WRITE", "DELETE", "PROJECT_ADMIN"},
    "ADMIN": {"READ", "WRITE", "DELETE", "PROJECT_ADMIN", "ADMIN"},
}


@dataclass
class App:
    """What a site learned from the app's descriptor at install."""

    key: str
    base_url: str
    scopes: frozenset[str]
    lifecycle: dict[str, str]
    modules: dict[str, Any]
    descriptor: dict[str, Any]

    @classmethod
    def from_descriptor(cls, descriptor: dict[str, Any]) -> App:
        """Read a descriptor.

        :raises ValueError: when it lacks the fields Jira insists on.
        """
        key = descriptor.get("key")
        base_url = descriptor.get("baseUrl")
        if not isinstance(key, str) or not key or not isinstance(base_url, str) or not base_url:
            raise ValueError("the descriptor needs a key and a baseUrl")
        auth = descriptor.get("authentication") or {}
        if not isinstance(auth, dict) or str(auth.get("type", "")).lower() != "jwt":
            raise ValueError("the descriptor must declare authentication type jwt")
        granted: set[str] = set()
        for scope in descriptor.get("scopes") or []:
            granted |= SCOPE_IMPLIES.get(str(scope).upper(), {str(scope).upper()})
        lifecycle = {
            str(k): str(v)
            for k, v in (descriptor.get("lifecycle") or {}).items()
            if isinstance(v, str)
        }
        modules = descriptor.get("modules") or {}
        return cls(
            key=key,
            base_url=base_url.rstrip("/"),
            scopes=frozenset(granted),
            lifecycle=lifecycle,
            modules=modules if isinstance(modules, dict) else {},
            descriptor=descriptor,
        )

    def url(self, template: str) -> str:
        """Resolve a descriptor URL (relative ones are relative to the app's base URL)."""
        if "://" in template:
            return template
        return self.base_url + "/" + template.lstrip("/")

    def lifecycle_url(self, event: str) -> str | None:
        path = self.lifecycle.get(event)
        return self.url(path) if path else None

    def has_module(self, module: str) -> bool:
        return bool(self.modules.get(module))

    def action_url(self, action: str, *modules: str) -> str | None:
        """The URL of an action, looked up in the given modules in order."""
        for module in modules:
            found = self.modules.get(module)
            for mod in found if isinstance(found, list) else [found]:
                if not isinstance(mod, dict):
                    continue
                spec = (mod.get("actions") or {}).get(action)
                if isinstance(spec, dict):
                    template = spec.get("templateUrl") or spec.get("url")
                    if isinstance(template, str) and template:
                        return self.url(template)
        return None

    def page_url(self) -> str | None:
        """The admin page Jira opens for the app (admin page, else configure or post-install)."""
        for name in ("adminPages", "configurePage", "postInstallPage", "generalPages"):
            found = self.modules.get(name)
            for page in found if isinstance(found, list) else [found]:
                if isinstance(page, dict) and isinstance(page.get("url"), str):
                    return self.url(page["url"])
        return None

    def summary(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "baseUrl": self.base_url,
            "scopes": sorted(self.scopes),
            "lifecycle": dict(self.lifecycle),
            "modules": sorted(self.modules),
            "adminPageUrl": self.page_url(),
        }


@dataclass
class Entity:
    payload: dict[str, Any]
    properties: dict[str, str]

    @property
    def usn(self) -> int:
        return int(self.payload["updateSequenceNumber"])


# (id, name, status category key)
STATUSES = (
    ("10000", "To Do", "new"),
    ("10001", "In Progress", "indeterminate"),
    ("10002", "Done", "done"),
)


@dataclass
class Issue:
    key: str
    summary: str
    status: str = "To Do"
    comments: list[dict[str, Any]] = field(default_factory=list)
    transitions_done: list[str] = field(default_factory=list)

    def fields(self) -> dict[str, Any]:
        return {"summary": self.summary, "status": status_json(self.status)}

    def snapshot(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "summary": self.summary,
            "status": self.status,
            "comments": copy.deepcopy(self.comments),
            "transitions": list(self.transitions_done),
        }


def status_json(name: str) -> dict[str, Any]:
    status_id, _, category = next(s for s in STATUSES if s[1] == name)
    return {"id": status_id, "name": name, "statusCategory": {"key": category}}


@dataclass
class Site:
    """One simulated Jira site."""

    name: str
    base_url: str
    client_key: str = field(default_factory=lambda: f"jira:{uuid.uuid4()}")
    cloud_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    account_id: str = field(default_factory=lambda: "5b10ac8d82e05b22cc7d4ef5")
    # Project keys the site has; issue keys of other projects are reported as unknown.
    projects: dict[str, str] = field(default_factory=lambda: {"OPS": "10000", "SHOP": "10001"})
    shared_secret: str | None = None
    state: str = "new"  # new → installed/enabled ⇄ disabled → uninstalled
    # Set when the app was installed the Forge way: Forge's id for the installation, and the
    # app system tokens handed out with invocations (token → expiry, time.time()).
    forge_installation_id: str | None = None
    system_tokens: dict[str, float] = field(default_factory=dict)
    app: App | None = None
    linked_workspaces: list[str] = field(default_factory=list)
    # Jira issues by key (``jira_simulator.issues``), which people create in the site.
    issues: dict[str, Issue] = field(default_factory=dict)
    entities: dict[str, dict[str, Entity]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )
    # Every updateSequenceNumber received per (kind, id), accepted or not, in arrival order.
    usn_history: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    # Every accepted entity payload in arrival order: (kind, payload).
    accepted: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # Every lifecycle callback sent: event, status.
    lifecycle_log: list[dict[str, Any]] = field(default_factory=list)
    # time.monotonic() before which the app must not call (set by 429/503 with Retry-After).
    blocked_until: float = 0.0

    @property
    def base_path(self) -> str:
        return "/sites/" + self.name

    def new_secret(self) -> str:
        self.shared_secret = secrets.token_urlsafe(48)
        return self.shared_secret

    def store(self, kind: str, entity: dict[str, Any], properties: dict[str, str]) -> bool:
        """Upsert by id with Jira's sequence-number rule; return whether it was stored."""
        entity_id = str(entity["id"])
        usn = int(entity["updateSequenceNumber"])
        self.usn_history[(kind, entity_id)].append(usn)
        current = self.entities[kind].get(entity_id)
        if current is not None and usn <= current.usn:
            return False
        stored = copy.deepcopy(entity)
        self.entities[kind][entity_id] = Entity(stored, dict(properties))
        self.accepted.append((kind, stored))
        return True

    def delete(self, kind: str, entity_id: str) -> bool:
        return self.entities[kind].pop(entity_id, None) is not None

    def delete_by_properties(self, kinds: tuple[str, ...], match: dict[str, str]) -> dict[str, int]:
        """Delete the entities whose properties include all of ``match``; count them per kind."""
        removed: dict[str, int] = {}
        for kind in kinds:
            doomed = [
                entity_id
                for entity_id, entity in self.entities[kind].items()
                if all(entity.properties.get(k) == v for k, v in match.items())
            ]
            for entity_id in doomed:
                del self.entities[kind][entity_id]
            removed[kind] = len(doomed)
        return removed

    def wipe(self) -> None:
        """Forget all the app's data, as Jira does on uninstall."""
        self.linked_workspaces.clear()
        for kind in KINDS:
            self.entities[kind].clear()

    def snapshot(self) -> dict[str, Any]:
        """A JSON-able copy of what the site holds (never the shared secret)."""
        return {
            "name": self.name,
            "baseUrl": self.base_url,
            "clientKey": self.client_key,
            "cloudId": self.cloud_id,
            "state": self.state,
            "forgeInstallationId": self.forge_installation_id,
            "app": self.app.summary() if self.app else None,
            "projects": dict(self.projects),
            "linkedWorkspaces": list(self.linked_workspaces),
            "incidents": {
                k: copy.deepcopy(e.payload) for k, e in self.entities["incidents"].items()
            },
            "reviews": {k: copy.deepcopy(e.payload) for k, e in self.entities["reviews"].items()},
            "components": {
                k: copy.deepcopy(e.payload) for k, e in self.entities["devopsComponents"].items()
            },
            "properties": {
                kind: {k: dict(e.properties) for k, e in self.entities[kind].items()}
                for kind in KINDS
            },
            "usnHistory": {
                f"{kind}/{entity_id}": list(usns)
                for (kind, entity_id), usns in sorted(self.usn_history.items())
            },
            "lifecycle": copy.deepcopy(self.lifecycle_log),
            "issues": {k: issue.snapshot() for k, issue in self.issues.items()},
        }


def _nested() -> defaultdict[str, Any]:
    return defaultdict(_nested)


class Counters:
    """Counts what happened, globally and per site; read with :meth:`snapshot`."""

    def __init__(self) -> None:
        self._data: dict[str | None, dict[str, Any]] = {}

    def _scopes(self, site: str | None) -> list[dict[str, Any]]:
        scopes = [self._bucket(None)]
        if site is not None:
            scopes.append(self._bucket(site))
        return scopes

    def _bucket(self, site: str | None) -> dict[str, Any]:
        if site not in self._data:
            self._data[site] = {
                "requests": defaultdict(lambda: defaultdict(int)),
                "bulk_requests": defaultdict(int),
                "entities": defaultdict(lambda: defaultdict(int)),
                "rejected_auth": 0,
                "rejected_auth_by_reason": defaultdict(int),
                # requests to the REST APIs by the credential they came with: jwt or forge
                "requests_by_auth": defaultdict(int),
                "faults_injected": defaultdict(int),
                "retry_after_violations": 0,
            }
        return self._data[site]

    def request(self, site: str | None, endpoint: str, status: int) -> None:
        for bucket in self._scopes(site):
            bucket["requests"][endpoint][str(status)] += 1

    def auth(self, site: str, credential: str) -> None:
        for bucket in self._scopes(site):
            bucket["requests_by_auth"][credential] += 1

    def bulk(self, site: str, kind: str) -> None:
        for bucket in self._scopes(site):
            bucket["bulk_requests"][kind] += 1

    def entities(self, site: str, kind: str, outcome: str, n: int = 1) -> None:
        if n:
            for bucket in self._scopes(site):
                bucket["entities"][kind][outcome] += n

    def rejected_auth(self, site: str | None, reason: str) -> None:
        for bucket in self._scopes(site):
            bucket["rejected_auth"] += 1
            bucket["rejected_auth_by_reason"][reason] += 1

    def fault(self, site: str, kind: str) -> None:
        for bucket in self._scopes(site):
            bucket["faults_injected"][kind] += 1

    def retry_after_violation(self, site: str) -> None:
        for bucket in self._scopes(site):
            bucket["retry_after_violations"] += 1

    def snapshot(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            return value

        out: dict[str, Any] = plain(self._bucket(None))
        out["sites"] = {site: plain(b) for site, b in self._data.items() if site is not None}
        return out


class World:
    """All sites and counters of one simulator."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.sites: dict[str, Site] = {}
        self.counters = Counters()
        self.started = time.time()

    def by_client_key(self, client_key: str) -> Site | None:
        for site in self.sites.values():
            if site.client_key == client_key:
                return site
        return None
