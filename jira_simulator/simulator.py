"""The simulator: a threaded HTTP server playing Jira, and the calls Jira makes to the app.

Use it in-process::

    with Simulator() as sim:
        sim.install("acme", "http://127.0.0.1:8000/atlassian-connect.json")
        sim.fetch_workspaces("acme", ["ws-1"])
        sim.state("acme")["incidents"]
"""

from __future__ import annotations

import copy
import logging
import threading
import time
import uuid
from typing import Any
from urllib.parse import quote
from urllib.parse import urlencode
from urllib.parse import urlsplit

import jwt as pyjwt
import requests
from werkzeug.serving import BaseWSGIServer
from werkzeug.serving import WSGIRequestHandler
from werkzeug.serving import make_server

from jira_simulator.faults import Faults
from jira_simulator.host import LifecycleResult
from jira_simulator.host import SimulatorError
from jira_simulator.keys import KeyPair
from jira_simulator.server import create_sim_app
from jira_simulator.state import App
from jira_simulator.state import Site
from jira_simulator.state import World
from provider.connect.jwt import qsh_for_url
from provider.connect.jwt import sign_hs256

logger = logging.getLogger(__name__)

SERVER_VERSION = "100296"
PLUGINS_VERSION = "1001.0.0-SNAPSHOT"
COMPONENT_MODULE = "jiraDevOpsComponentProvider"
OPERATIONS_MODULE = "jiraOperationsInfoProvider"


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.server.log_requests:  # type: ignore[attr-defined]
            super().log_request(code, size)


class Simulator:
    """A local Jira with several sites, usable as a context manager.

    :param max_entities: answer 413 to a bulk request with more entities than this (below
        Jira's own limit of 1000, past which the answer is 400).
    :param strict_retry_after: answer 429 to a request that ignores an earlier Retry-After (as
        Jira does), instead of only counting the violation.
    :param seed: seeds the RNG that decides which requests a fractional fault hits.
    :param keys: the RSA key pair for signed installs (a new one by default).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        sites: tuple[str, ...] = ("acme",),
        max_entities: int = 1000,
        strict_retry_after: bool = False,
        seed: int = 0,
        log_requests: bool = False,
        timeout: float = 10.0,
        keys: KeyPair | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.max_entities = max_entities
        self.strict_retry_after = strict_retry_after
        self.log_requests = log_requests
        self.timeout = timeout
        self.world = World()
        self.faults = Faults(seed)
        self.keys = keys or KeyPair.generate()
        self.http = requests.Session()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._initial_sites = sites

    # ── server ─────────────────────────────────────────────────────────────────────────────────

    def start(self) -> Simulator:

        if self._server is not None:
            return self
        server = make_server(
            self.host, self.port, create_sim_app(self), threaded=True, request_handler=_QuietHandler
        )
        server.log_requests = self.log_requests  # type: ignore[attr-defined]
        server.daemon_threads = True  # type: ignore[attr-defined]
        self._server = server
        self.port = server.server_port
        for name in self._initial_sites:
            self.add_site(name)
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="jira-simulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None
        self.http.close()

    def serve_forever(self) -> None:
        """Run in the foreground until interrupted (the CLI)."""
        self.start()
        assert self._thread is not None  # noqa: S101 - start() sets it
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        finally:
            self.stop()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def keys_url(self) -> str:
        """What the app's ``INSTALL_KEYS_URL`` should be."""
        return f"{self.url}/keys"

    # ── sites and state ────────────────────────────────────────────────────────────────────────

    def add_site(self, name: str, **fields: Any) -> Site:
        """Create a site (or return the existing one); ``fields`` set e.g. ``projects``."""
        if not name or not all(c.isalnum() or c in "-_" for c in name):
            raise SimulatorError("site names are letters, digits, '-' and '_'")
        with self.world.lock:
            site = self.world.sites.get(name)
            if site is None:
                site = Site(name=name, base_url=f"{self.url}/sites/{name}", **fields)
                self.world.sites[name] = site
            return site

    def site(self, name: str) -> Site:
        """The live site object (hold ``sim.world.lock`` while reading it from another thread).

        :raises SimulatorError: for an unknown site.
        """
        with self.world.lock:
            site = self.world.sites.get(name)
        if site is None:
            raise SimulatorError(f"no site named {name!r}")
        return site

    def state(self, site: str | None = None) -> dict[str, Any]:
        """A copy of what one site (or every site, keyed by name) holds."""
        with self.world.lock:
            if site is not None:
                return self.site(site).snapshot()
            return {name: s.snapshot() for name, s in self.world.sites.items()}

    def counters(self) -> dict[str, Any]:
        with self.world.lock:
            return self.world.counters.snapshot()

    def usn_history(self, site: str, kind: str, entity_id: str) -> list[int]:
        """Every updateSequenceNumber the site received for an entity, in arrival order.

        ``kind`` is ``incidents``, ``reviews`` or ``devopsComponents``.
        """
        with self.world.lock:
            return list(self.site(site).usn_history.get((kind, entity_id), []))

    def accepted_payloads(self, site: str) -> list[tuple[str, dict[str, Any]]]:
        """Every entity payload the site accepted, in arrival order, as ``(kind, payload)``."""
        with self.world.lock:
            return copy.deepcopy(self.site(site).accepted)

    def reset(self) -> None:
        """Forget all entities, workspaces, counters and faults (installations stay)."""
        with self.world.lock:
            for site in self.world.sites.values():
                site.wipe()
                site.usn_history.clear()
                site.accepted.clear()
                site.blocked_until = 0.0
            self.world.counters = type(self.world.counters)()
        self.faults.clear()

    # ── lifecycle (Jira → app, signed RS256) ───────────────────────────────────────────────────

    def install(self, site: str, descriptor_url: str, *, sign: bool = True) -> LifecycleResult:
        """Install the app: fetch its descriptor, send ``installed`` then ``enabled``.

        A re-install sends a new shared secret. ``sign=False`` sends the callback without a JWT
        (what a forged install looks like).

        :raises SimulatorError: when the descriptor cannot be fetched or read.
        """
        target = self.add_site(site)
        try:
            answer = self.http.get(descriptor_url, timeout=self.timeout)
            answer.raise_for_status()
            app = App.from_descriptor(answer.json())
        except (requests.RequestException, ValueError) as e:
            raise SimulatorError(f"cannot read the descriptor at {descriptor_url}: {e}") from e

        with self.world.lock:
            previous = (target.app, target.shared_secret, target.state)
            target.app = app
            secret = target.new_secret()
            # Calls signed with the new secret are accepted while the app handles `installed`:
            # an app may start pushing (a backfill) before its answer reaches Jira.
            target.state = "installing"
        installed = self._lifecycle(target, app, "installed", secret, sign=sign)
        responses = {"installed": installed}
        with self.world.lock:
            if not installed.ok:
                target.app, target.shared_secret, target.state = previous
                return LifecycleResult(responses)
            target.state = "installed"
        enabled = self._lifecycle(target, app, "enabled", secret, sign=sign)
        responses["enabled"] = enabled
        if enabled.ok:
            with self.world.lock:
                target.state = "enabled"
        return LifecycleResult(responses)

    def uninstall(self, site: str, *, sign: bool = True) -> LifecycleResult:
        """Send ``uninstalled``; the site forgets the app's data and secret, as Jira does."""
        target, app, secret = self._installed(site)
        response = self._lifecycle(target, app, "uninstalled", secret, sign=sign)
        with self.world.lock:
            target.state = "uninstalled"
            target.shared_secret = None
            target.wipe()
        return LifecycleResult({"uninstalled": response})

    def disable(self, site: str, *, sign: bool = True) -> LifecycleResult:
        target, app, secret = self._installed(site)
        response = self._lifecycle(target, app, "disabled", secret, sign=sign)
        with self.world.lock:
            target.state = "disabled"
        return LifecycleResult({"disabled": response})

    def enable(self, site: str, *, sign: bool = True) -> LifecycleResult:
        target, app, secret = self._installed(site)
        response = self._lifecycle(target, app, "enabled", secret, sign=sign)
        if response.ok:
            with self.world.lock:
                target.state = "enabled"
        return LifecycleResult({"enabled": response})

    def _installed(self, name: str) -> tuple[Site, App, str]:
        target = self.site(name)
        with self.world.lock:
            app, secret = target.app, target.shared_secret
        if app is None or secret is None:
            raise SimulatorError(f"the app is not installed on {name!r}")
        return target, app, secret

    def lifecycle_body(self, site: Site, app: App, event: str, secret: str) -> dict[str, Any]:
        """The body Jira posts to a lifecycle callback."""
        return {
            "key": app.key,
            "clientKey": site.client_key,
            "sharedSecret": secret,
            "baseUrl": site.base_url,
            "displayUrl": site.base_url,
            "productType": "jira",
            "description": f"Atlassian JIRA at {site.base_url}",
            "eventType": event,
            "cloudId": site.cloud_id,
            "serverVersion": SERVER_VERSION,
            "pluginsVersion": PLUGINS_VERSION,
        }

    def sign_install(self, site: Site, app: App, method: str, url: str, **claims: Any) -> str:
        """An RS256 token as Jira signs lifecycle callbacks (``claims`` override the defaults)."""
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": site.client_key,
            "sub": site.client_key,
            "aud": app.base_url,
            "qsh": qsh_for_url(method, url, app.base_url),
            "iat": now,
            "exp": now + 180,
            "jti": uuid.uuid4().hex,
        }
        payload.update(claims)
        return pyjwt.encode(
            payload, self.keys.private_pem, algorithm="RS256", headers={"kid": self.keys.kid}
        )

    def _lifecycle(
        self, site: Site, app: App, event: str, secret: str, *, sign: bool
    ) -> requests.Response:
        url = app.lifecycle_url(event) or app.url("/" + event)
        body = self.lifecycle_body(site, app, event, secret)
        headers = {"Content-Type": "application/json"}
        if sign:
            headers["Authorization"] = "JWT " + self.sign_install(site, app, "POST", url)
        response = self.http.post(url, json=body, headers=headers, timeout=self.timeout)
        with self.world.lock:
            site.lifecycle_log.append(
                {"event": event, "url": url, "status": response.status_code, "at": time.time()}
            )
        logger.info("lifecycle %s for site %s answered %s", event, site.name, response.status_code)
        return response

    # ── actions (Jira → app, signed HS256 with the shared secret) ──────────────────────────────

    def signed_request(
        self,
        site: str,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        in_query: bool = False,
        claims: dict[str, Any] | None = None,
    ) -> requests.Response:
        """Call the app as the site would: HS256, ``iss`` = clientKey, ``qsh`` of the request.

        ``url`` may be relative to the app's base URL. With ``in_query`` the token travels as
        ``?jwt=`` (page loads); otherwise in ``Authorization: JWT …``.
        """
        target, app, secret = self._installed(site)
        full = app.url(url)
        if params:
            query = urlencode(params, quote_via=quote)
            full = full + ("&" if "?" in full else "?") + query
        extra = {"sub": target.account_id, **(claims or {})}
        token = sign_hs256(
            iss=target.client_key,
            secret=secret,
            method=method,
            url=full,
            base_url=app.base_url,
            extra=extra,
        )
        headers = {}
        if in_query:
            full = full + ("&" if "?" in full else "?") + "jwt=" + token
        else:
            headers["Authorization"] = "JWT " + token
        return self.http.request(method, full, json=json, headers=headers, timeout=self.timeout)

    def _action(self, site: str, action: str, *modules: str) -> str:
        _, app, _ = self._installed(site)
        url = app.action_url(action, *modules)
        if url is None:
            raise SimulatorError(f"the descriptor declares no {action} action")
        return url

    def fetch_workspaces(self, site: str, ids: list[str]) -> requests.Response:
        url = self._action(site, "fetchWorkspaces", OPERATIONS_MODULE)
        return self.signed_request(site, "POST", url, json={"ids": list(ids)})

    def search_containers(
        self, site: str, query: str, workspace_id: str | None = None
    ) -> requests.Response:
        url = self._action(site, "searchContainers", OPERATIONS_MODULE)
        params = {"searchQuery": query}
        if workspace_id is not None:
            params["workspaceId"] = workspace_id
        return self.signed_request(site, "GET", url, params=params)

    def _ref(self, site: Site, kind: str, entity_id: str) -> dict[str, str]:
        return {
            "ati": f"ati:cloud:jira:{kind}",
            "ari": f"ari:cloud:jira:{site.cloud_id}:{kind}/{entity_id}",
            "cloudId": site.cloud_id,
            "id": entity_id,
        }

    def associate(
        self, site: str, component_url: str, issue_id: str = "10001"
    ) -> requests.Response:
        url = (
            self._action(site, "associate", COMPONENT_MODULE)
            if self._has_action(site, "associate")
            else self._action(site, "associateEntity", COMPONENT_MODULE)
        )
        target = self.site(site)
        body = {
            "entity": {"url": component_url},
            "associateWith": self._ref(target, "issue", issue_id),
        }
        return self.signed_request(
            site, "POST", url, params={"userId": target.account_id}, json=body
        )

    def disassociate(
        self, site: str, component_id: str, issue_id: str = "10001"
    ) -> requests.Response:
        url = (
            self._action(site, "disassociate", COMPONENT_MODULE)
            if self._has_action(site, "disassociate")
            else self._action(site, "disassociateEntity", COMPONENT_MODULE)
        )
        target = self.site(site)
        body = {
            "entity": {
                "ari": f"ari:cloud:compass:{target.cloud_id}:component/{component_id}",
                "id": component_id,
            },
            "disassociateFrom": self._ref(target, "issue", issue_id),
        }
        return self.signed_request(
            site, "POST", url, params={"userId": target.account_id}, json=body
        )

    def _has_action(self, site: str, action: str) -> bool:
        _, app, _ = self._installed(site)
        return app.action_url(action, COMPONENT_MODULE) is not None

    def _entity_event(
        self, site: str, action: str, key: str, component_id: str, project_id: str, method: str
    ) -> requests.Response:
        url = self._action(site, action, COMPONENT_MODULE, OPERATIONS_MODULE)
        target = self.site(site)
        body = {
            "entity": {
                "ari": f"ari:cloud:compass:{target.cloud_id}:component/{component_id}",
                "id": component_id,
            },
            key: self._ref(target, "project", project_id),
            "user": {"id": target.account_id},
        }
        return self.signed_request(site, method, url, json=body)

    def on_entity_associated(
        self, site: str, component_id: str, project_id: str, method: str = "PUT"
    ) -> requests.Response:
        return self._entity_event(
            site, "onEntityAssociated", "associatedWith", component_id, project_id, method
        )

    def on_entity_disassociated(
        self, site: str, component_id: str, project_id: str, method: str = "PUT"
    ) -> requests.Response:
        return self._entity_event(
            site, "onEntityDisassociated", "disassociatedFrom", component_id, project_id, method
        )

    def _admin_page_params(self, site: str) -> tuple[str, dict[str, str]]:
        target, app, _ = self._installed(site)
        url = app.page_url()
        if url is None:
            raise SimulatorError("the descriptor declares no admin page")
        origin = urlsplit(target.base_url)
        params = {
            "xdm_e": f"{origin.scheme}://{origin.netloc}",
            "xdm_c": f"channel-{app.key}__admin",
            "cp": target.base_path,
            "xdm_deprecated_addon_key_do_not_use": app.key,
            "lic": "none",
            "cv": PLUGINS_VERSION,
            "tz": "UTC",
            "loc": "en-US",
        }
        return url, params

    def open_admin_page(self, site: str) -> requests.Response:
        """Load the app's admin page the way Jira's iframe does (``?jwt=`` and context params)."""
        url, params = self._admin_page_params(site)
        return self.signed_request(site, "GET", url, params=params, in_query=True)

    def admin_page_url(self, site: str) -> str:
        """The URL Jira puts in the admin page's iframe: context parameters and a page JWT."""
        target, app, secret = self._installed(site)
        url, params = self._admin_page_params(site)
        full = app.url(url)
        full = full + ("&" if "?" in full else "?") + urlencode(params, quote_via=quote)
        token = sign_hs256(
            iss=target.client_key,
            secret=secret,
            method="GET",
            url=full,
            base_url=app.base_url,
            extra={"sub": target.account_id},
        )
        return f"{full}&jwt={token}"

    def context_token(self, site: str) -> str:
        """What ``AP.context.getToken()`` hands the app's page: a JWT with ``qsh: context-qsh``."""
        target, _app, secret = self._installed(site)
        return sign_hs256(
            iss=target.client_key,
            secret=secret,
            method="GET",
            url="/",
            qsh="context-qsh",
            extra={"sub": target.account_id},
        )

    def app_origin(self, site: str) -> str:
        _target, app, _secret = self._installed(site)
        parts = urlsplit(app.base_url)
        return f"{parts.scheme}://{parts.netloc}"
