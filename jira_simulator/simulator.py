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

import jwt as pyjwt
import requests
from werkzeug.serving import BaseWSGIServer
from werkzeug.serving import WSGIRequestHandler
from werkzeug.serving import make_server

from jira_simulator.calls import PLUGINS_VERSION
from jira_simulator.faults import Faults
from jira_simulator.forge import DEFAULT_APP_ID
from jira_simulator.forge import JWKS_PATH
from jira_simulator.forge import Forge
from jira_simulator.host import LifecycleResult
from jira_simulator.host import SimulatorError
from jira_simulator.issues import IssueActions
from jira_simulator.keys import KeyPair
from jira_simulator.server import create_sim_app
from jira_simulator.state import App
from jira_simulator.state import Site
from jira_simulator.state import World
from provider.connect.jwt import qsh_for_url

logger = logging.getLogger(__name__)

SERVER_VERSION = "100296"
FORGE_INSTALLED_EVENT = "avi:forge:installed:app"


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.server.log_requests:  # type: ignore[attr-defined]
            super().log_request(code, size)


class Simulator(IssueActions):
    """A local Jira with several sites, usable as a context manager.

    :param max_entities: answer 413 to a bulk request with more entities than this (below
        Jira's own limit of 1000, past which the answer is 400).
    :param strict_retry_after: answer 429 to a request that ignores an earlier Retry-After (as
        Jira does), instead of only counting the violation.
    :param seed: seeds the RNG that decides which requests a fractional fault hits.
    :param keys: the RSA key pair for signed installs (a new one by default).
    :param forge_app_id: the app id Forge puts in invocation tokens (the app's FORGE_APP_ID).
    :param accept_forge_tokens: let the app call the sites' REST APIs with Forge's system tokens
        (Jira documents that it does not; off by default).
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
        forge_app_id: str = DEFAULT_APP_ID,
        accept_forge_tokens: bool = False,
        forge_keys: KeyPair | None = None,
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
        self.forge = Forge(
            app_id=forge_app_id, accepts_system_tokens=accept_forge_tokens, keys=forge_keys
        )
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

    @property
    def forge_jwks_url(self) -> str:
        """What the app's ``FORGE_JWKS_URL`` should be."""
        return f"{self.url}{JWKS_PATH}"

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

    def install(
        self, site: str, descriptor_url: str, *, sign: bool = True, forge: bool = False
    ) -> LifecycleResult:
        """Install the app: fetch its descriptor, send ``installed`` then ``enabled``.

        A re-install sends a new shared secret. ``sign=False`` sends the callback without a JWT
        (what a forged install looks like). ``forge=True`` installs the app the Forge way, as a
        Connect-on-Forge app is: ``installed`` carries Forge's ``installationId``, ``enabled`` is
        not sent, Forge's install event follows, and the site calls the app with Forge
        invocations from then on.

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
            previous = (
                target.app,
                target.shared_secret,
                target.state,
                target.forge_installation_id,
            )
            target.app = app
            secret = target.new_secret()
            target.forge_installation_id = (
                (target.forge_installation_id or Forge.new_installation_id()) if forge else None
            )
            # Calls signed with the new secret are accepted while the app handles `installed`:
            # an app may start pushing (a backfill) before its answer reaches Jira.
            target.state = "installing"
        installed = self._lifecycle(target, app, "installed", secret, sign=sign)
        responses = {"installed": installed}
        with self.world.lock:
            if not installed.ok:
                (
                    target.app,
                    target.shared_secret,
                    target.state,
                    target.forge_installation_id,
                ) = previous
                return LifecycleResult(responses)
            target.state = "installed"
        if forge:
            follow = FORGE_INSTALLED_EVENT
            responses[follow] = self.forge_event(site, FORGE_INSTALLED_EVENT)
        else:
            follow = "enabled"
            responses[follow] = self._lifecycle(target, app, "enabled", secret, sign=sign)
        if responses[follow].ok:
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
            target.forge_installation_id = None
            target.system_tokens.clear()
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
        forge = {"installationId": site.forge_installation_id} if site.forge_installation_id else {}
        return {
            **forge,
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
