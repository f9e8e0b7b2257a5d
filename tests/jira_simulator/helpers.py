"""A tiny recording Connect app and a signer that calls the simulator as the app would."""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import requests
from flask import Flask
from flask import Response
from flask import jsonify
from flask import request
from werkzeug.serving import BaseWSGIServer
from werkzeug.serving import make_server

from jira_simulator import Simulator
from provider.connect.jwt import sign_hs256

APP_KEY = "ops-provider-test"


class ServerThread:
    """Serve a WSGI app on a free loopback port in a background thread."""

    def __init__(self, app: Any) -> None:
        self.server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@dataclass
class Recorded:
    method: str
    path: str
    raw_uri: str
    headers: dict[str, str]
    body: Any


def descriptor(
    base_url: str, *, scopes: list[str] | None = None, modules: bool = True
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "key": APP_KEY,
        "name": "Ops provider (test)",
        "baseUrl": base_url,
        "authentication": {"type": "jwt"},
        "apiMigrations": {"signed-install": True},
        "scopes": ["READ", "WRITE", "DELETE"] if scopes is None else scopes,
        "lifecycle": {
            "installed": "/installed",
            "uninstalled": "/uninstalled",
            "enabled": "/enabled",
            "disabled": "/disabled",
        },
        "modules": {
            "adminPages": [{"key": "admin", "name": {"value": "Ops"}, "url": "/admin"}],
        },
    }
    if modules:
        data["modules"]["jiraOperationsInfoProvider"] = {
            "key": "ops",
            "name": {"value": "Ops"},
            "homeUrl": base_url,
            "actions": {
                "fetchWorkspaces": {"templateUrl": "/workspaces/list"},
                "searchContainers": {"templateUrl": "/containers/search"},
            },
        }
        data["modules"]["jiraDevOpsComponentProvider"] = {
            "key": "components",
            "name": {"value": "Components"},
            "homeUrl": base_url,
            "actions": {
                "associate": {"templateUrl": "/components/associate"},
                "disassociate": {"templateUrl": "/components/disassociate"},
                "onEntityAssociated": {"templateUrl": "/components/on-entity-associated"},
                "onEntityDisassociated": {"templateUrl": "/components/on-entity-disassociated"},
            },
        }
    return data


@dataclass
class RecordingApp:
    """A stand-in for the provider: serves a descriptor and records every call it gets."""

    scopes: list[str] | None = None
    modules: bool = True
    lifecycle_status: int = 204
    calls: list[Recorded] = field(default_factory=list)

    def wsgi(self) -> Flask:
        app = Flask("recording_app")

        @app.get("/atlassian-connect.json")
        def served_descriptor() -> Response:
            return jsonify(
                descriptor(request.host_url.rstrip("/"), scopes=self.scopes, modules=self.modules)
            )

        @app.route("/<path:path>", methods=["GET", "POST", "PUT", "DELETE"])
        def anything(path: str) -> tuple[Any, int]:
            self.calls.append(
                Recorded(
                    method=request.method,
                    path="/" + path,
                    raw_uri=request.environ.get("RAW_URI", ""),
                    headers=dict(request.headers),
                    body=copy.deepcopy(request.get_json(silent=True)),
                )
            )
            if path in ("installed", "uninstalled", "enabled", "disabled"):
                return "", self.lifecycle_status
            if path == "workspaces/list":
                ids = (request.get_json(silent=True) or {}).get("ids", [])
                return {"workspaces": [{"id": i, "name": f"Workspace {i}"} for i in ids]}, 200
            if path == "containers/search":
                return {"containers": [{"id": "svc-1", "name": "checkout"}]}, 200
            return {}, 200

        return app

    def last(self, path: str) -> Recorded:
        return [c for c in self.calls if c.path == path][-1]


class AppSigner:
    """Calls a simulated site's REST API the way the provider does (``iss`` = app key)."""

    def __init__(self, sim: Simulator, site: str) -> None:
        self.sim = sim
        self.site = sim.site(site)
        self.http = requests.Session()

    @property
    def secret(self) -> str:
        assert self.site.shared_secret is not None
        return self.site.shared_secret

    def url(self, path: str, query: str = "") -> str:
        return self.site.base_url + path + (f"?{query}" if query else "")

    def token(self, method: str, path: str, query: str = "", **overrides: Any) -> str:
        args: dict[str, Any] = {
            "iss": APP_KEY,
            "secret": self.secret,
            "method": method,
            "url": self.url(path, query),
            "base_url": self.site.base_url,
        }
        args.update(overrides)
        return sign_hs256(**args)

    def request(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        json: Any = None,
        token: str | None = None,
        **overrides: Any,
    ) -> requests.Response:
        if token is None:
            token = self.token(method, path, query, **overrides)
        headers = {"Authorization": f"JWT {token}"} if token else {}
        return self.http.request(
            method, self.url(path, query), json=json, headers=headers, timeout=10
        )

    def post(self, path: str, json: Any, **kw: Any) -> requests.Response:
        return self.request("POST", path, json=json, **kw)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.request("GET", path, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.request("DELETE", path, **kw)


def incident(id_: str = "inc-1", usn: int = 1, **fields: Any) -> dict[str, Any]:
    data = {
        "schemaVersion": "1.0",
        "id": id_,
        "updateSequenceNumber": usn,
        "affectedComponents": ["svc-1"],
        "summary": "Checkout API 5xx spike",
        "description": "Error rate above 20%.",
        "url": f"https://ops.example.com/incidents/{id_}",
        "createdDate": "2024-06-10T10:02:00Z",
        "lastUpdated": "2024-06-10T10:15:00.123+00:00",
        "severity": {"level": "P1"},
        "status": "open",
    }
    data.update(fields)
    return data


def review(id_: str = "pir-1", usn: int = 1, **fields: Any) -> dict[str, Any]:
    data = {
        "schemaVersion": "1.0",
        "id": id_,
        "updateSequenceNumber": usn,
        "reviews": ["inc-1"],
        "summary": "PIR - checkout",
        "description": "Root cause: pool exhaustion.",
        "url": f"https://ops.example.com/pirs/{id_}",
        "createdDate": "2024-06-10T11:00:00Z",
        "lastUpdated": "2024-06-10T11:00:00Z",
        "status": "in progress",
    }
    data.update(fields)
    return data


def component(id_: str = "svc-1", usn: int = 1, **fields: Any) -> dict[str, Any]:
    data = {
        "schemaVersion": "1.0",
        "id": id_,
        "updateSequenceNumber": usn,
        "name": "checkout-api",
        "description": "Checkout HTTP API",
        "url": f"https://ops.example.com/services/{id_}",
        "avatarUrl": "https://ops.example.com/static/service.png",
        "tier": "Tier 1",
        "componentType": "Service",
        "lastUpdated": "2024-06-10T09:00:00Z",
    }
    data.update(fields)
    return data
