"""The calls a simulated site makes to the app: Jira's actions and its admin page.

A site that installed the app the Forge way makes them as Forge endpoint invocations (what a
Forge-native provider module would do; Connect on Forge still calls ``connectModules`` with
Connect JWTs today), every other site with Connect JWTs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any
from urllib.parse import quote
from urllib.parse import urlencode
from urllib.parse import urlsplit

import requests

from jira_simulator.forge import INVOCATIONS_PATH
from jira_simulator.forge import Forge
from jira_simulator.host import SimulatorError
from jira_simulator.state import App
from jira_simulator.state import Site
from jira_simulator.state import World
from provider.connect.jwt import sign_hs256

PLUGINS_VERSION = "1001.0.0-SNAPSHOT"
COMPONENT_MODULE = "jiraDevOpsComponentProvider"
OPERATIONS_MODULE = "jiraOperationsInfoProvider"


class AppCalls:
    """Jira → app calls; mixed into the simulator, which owns the sites, the HTTP session and Forge."""

    world: World
    forge: Forge
    http: requests.Session
    timeout: float

    if TYPE_CHECKING:

        @property
        def url(self) -> str: ...

        def site(self, name: str) -> Site: ...

        def _installed(self, name: str) -> tuple[Site, App, str]: ...

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
        """Call the app as the site would.

        A site that installed the app the Forge way invokes it as Forge invokes an endpoint: a
        Forge Invocation Token (``claims`` override its claims) and a fresh app system token.
        Otherwise the call carries a Connect JWT: HS256, ``iss`` = clientKey, ``qsh`` of the
        request; with ``in_query`` it travels as ``?jwt=`` (page loads, which are Connect modules
        either way), else in ``Authorization: JWT …``. ``url`` may be relative to the app's base
        URL.
        """
        target, app, secret = self._installed(site)
        full = app.url(url)
        if params:
            query = urlencode(params, quote_via=quote)
            full = full + ("&" if "?" in full else "?") + query
        if target.forge_installation_id is not None and not in_query:
            return self._invoke(target, method, full, json=json, claims=claims)
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

    def _invoke(
        self,
        target: Site,
        method: str,
        url: str,
        *,
        json: Any = None,
        claims: dict[str, Any] | None = None,
    ) -> requests.Response:
        with self.world.lock:
            system_token = self.forge.system_token(target)
        headers = {
            "Authorization": "Bearer "
            + self.forge.invocation_token(target, self.url, **(claims or {})),
            "x-forge-oauth-system": system_token,
        }
        return self.http.request(method, url, json=json, headers=headers, timeout=self.timeout)

    def forge_event(
        self, site: str, event: str = "avi:forge:scheduled-trigger"
    ) -> requests.Response:
        """Invoke the app's Forge endpoint for an event: a lifecycle event or its scheduled trigger."""
        target, app, _ = self._installed(site)
        if target.forge_installation_id is None:
            raise SimulatorError(f"the app is not installed the Forge way on {site!r}")
        body = {"eventType": event, "context": {"cloudId": target.cloud_id}}
        return self._invoke(target, "POST", app.url(INVOCATIONS_PATH), json=body)

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
