"""The simulator's Flask app: the sites' REST APIs, the key server and the control endpoints."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Flask
from flask import Response
from flask import render_template
from flask import request
from werkzeug.exceptions import HTTPException

from jira_simulator import issues  # noqa: F401 - registers the issue endpoints
from jira_simulator import jira_api
from jira_simulator.faults import Fault
from jira_simulator.faults import FaultError
from jira_simulator.forge import JWKS_PATH
from jira_simulator.host import Host
from jira_simulator.host import LifecycleResult
from jira_simulator.host import SimulatorError

logger = logging.getLogger(__name__)

# The part of all.js an admin page uses: AP.context.getToken over postMessage to the host page.
ALL_JS = """
window.AP = (function () {
  var seq = 0, waiting = {};
  window.addEventListener("message", function (e) {
    if (e.source !== window.parent || !e.data || e.data.type !== "ap-token") return;
    var done = waiting[e.data.id];
    delete waiting[e.data.id];
    if (done) done(e.data.token);
  });
  function getToken(callback) {
    return new Promise(function (resolve) {
      var id = ++seq;
      waiting[id] = function (token) { if (callback) callback(token); resolve(token); };
      window.parent.postMessage({ type: "ap-get-token", id: id }, "*");
    });
  }
  return { context: { getToken: getToken }, resize: function () {}, sizeToParent: function () {} };
})();
"""

ALL_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, indent=1), status=status, mimetype="application/json")


def create_sim_app(sim: Host) -> Flask:
    app = Flask("jira_simulator", static_folder=None)
    app.extensions["jira_simulator"] = sim

    @app.route("/sites/<site>/<path:rest>", methods=ALL_METHODS)
    def site_api(site: str, rest: str) -> Response:
        return jira_api.handle(sim, site)

    @app.route("/ex/jira/<cloud_id>/<path:rest>", methods=ALL_METHODS)
    def site_api_for_forge(cloud_id: str, rest: str) -> Response:
        return jira_api.handle_api(sim, cloud_id)

    @app.get(JWKS_PATH)
    def forge_jwks() -> Response:
        return _json(sim.forge.jwks())

    @app.get("/keys/<kid>")
    def public_key(kid: str) -> Response:
        if kid != sim.keys.kid:
            return Response("unknown key id\n", status=404, mimetype="text/plain")
        return Response(sim.keys.public_pem, mimetype="application/x-pem-file")

    @app.get("/_sim/all.js")
    def all_js() -> Response:
        # Stands in for Atlassian's all.js when the app runs with CONNECT_JS_URL pointing here.
        return Response(ALL_JS, mimetype="application/javascript")

    @app.get("/_sim/sites/<site>/admin")
    def admin_frame(site: str) -> Response | str:
        """The app's admin page as Jira shows it: framed, with a page JWT, answering getToken."""

        try:
            url = sim.admin_page_url(site)
            origin = sim.app_origin(site)
        except SimulatorError as e:
            return _json([{"message": str(e)}], 409)
        return render_template("admin_frame.html", site=site, url=url, app_origin=origin)

    @app.get("/_sim/sites/<site>/context-token")
    def context_token(site: str) -> Response:

        try:
            return Response(sim.context_token(site), mimetype="text/plain")
        except SimulatorError as e:
            return _json([{"message": str(e)}], 409)

    @app.get("/")
    def index() -> str:
        return render_template("index.html", sim=sim, sites=sim.state(), counters=sim.counters())

    @app.get("/_sim/state")
    def state() -> Response:
        return _json({"url": sim.url, "keysUrl": sim.keys_url, "sites": sim.state()})

    @app.get("/_sim/state/<site>")
    def site_state(site: str) -> Response:
        if site not in sim.world.sites:
            return _json([{"message": f"No site named {site!r}."}], 404)
        return _json(sim.state(site))

    @app.get("/_sim/counters")
    def counters() -> Response:
        return _json(sim.counters())

    @app.get("/_sim/faults")
    def list_faults() -> Response:
        return _json({"faults": [f.to_json() for f in sim.faults.list()]})

    @app.post("/_sim/faults")
    def add_fault() -> Response:
        try:
            fault = sim.faults.add_fault(Fault.from_json(request.get_json(silent=True)))
        except FaultError as e:
            return _json([{"message": str(e)}], 400)
        return _json(fault.to_json(), 201)

    @app.delete("/_sim/faults")
    def clear_faults() -> Response:
        sim.faults.clear(request.args.get("site"))
        return Response(status=204)

    @app.delete("/_sim/faults/<int:fault_id>")
    def remove_fault(fault_id: int) -> Response:
        if not sim.faults.remove(fault_id):
            return _json([{"message": "No such fault."}], 404)
        return Response(status=204)

    @app.post("/_sim/reset")
    def reset() -> Response:
        sim.reset()
        return Response(status=204)

    @app.post("/_sim/sites/<site>/<event>")
    def lifecycle(site: str, event: str) -> Response:

        body = request.get_json(silent=True) or {}
        try:
            if event == "install":
                url = body.get("descriptorUrl") if isinstance(body, dict) else None
                if not isinstance(url, str) or not url:
                    return _json([{"message": "descriptorUrl is required."}], 400)
                result = sim.install(site, url, forge=body.get("forge") is True)
            elif event == "uninstall":
                result = sim.uninstall(site)
            elif event == "enable":
                result = sim.enable(site)
            elif event == "disable":
                result = sim.disable(site)
            elif event == "forge-trigger":
                response = sim.forge_event(site)
                result = LifecycleResult({"avi:forge:scheduled-trigger": response})
            else:
                return _json([{"message": f"Unknown event {event!r}."}], 404)
        except SimulatorError as e:
            return _json([{"message": str(e)}], 409)
        answers = {name: r.status_code for name, r in result.responses.items()}
        return _json({"ok": result.ok, "responses": answers, "site": sim.state(site)})

    @app.errorhandler(404)
    def not_found(_e: Exception) -> Response:
        return _json([{"message": "No such resource."}], 404)

    @app.errorhandler(Exception)
    def unexpected(e: Exception) -> Response:
        # A simulator bug must still look like a Jira answer to the app, never an HTML page.
        if isinstance(e, HTTPException):
            return _json([{"message": e.description or e.name}], e.code or 500)
        logger.error("simulator request failed", exc_info=e)
        return _json([{"message": "Internal server error."}], 500)

    @app.errorhandler(405)
    def not_allowed(_e: Exception) -> Response:
        return _json([{"message": "Method not allowed."}], 405)

    return app
