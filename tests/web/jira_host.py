"""A tiny stand-in for Jira's side of an admin page: a host page that frames the app, and all.js.

The host page is what Jira renders around an app's admin page: it frames the app URL with a
page JWT and answers the iframe's ``AP.context.getToken()`` with a context token that the host
(here: the test, with :mod:`tests.signing`) signs with the site's shared secret. The fake
``all.js`` talks to the host page with ``postMessage``, as the real one does.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask import Response
from werkzeug.serving import make_server

from tests.signing import JiraSigner

FAKE_ALL_JS = """
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

HOST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Apps - Jira</title>
<style>
  body { margin: 0; font: 14px/20px -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, sans-serif;
         color: #172b4d; display: grid; grid-template-rows: 56px 1fr; height: 100vh; }
  .nav { display: flex; align-items: center; gap: 16px; padding: 0 16px;
         border-bottom: 1px solid #091e4224; font-weight: 600; }
  .logo { width: 24px; height: 24px; border-radius: 4px; background: #0c66e4; }
  .layout { display: grid; grid-template-columns: 240px 1fr; min-height: 0; }
  .side { background: #f7f8f9; border-right: 1px solid #091e4224; padding: 16px 8px; color: #44546f; }
  .side div { padding: 6px 8px; border-radius: 3px; }
  .side .current { background: #e9f2ff; color: #0c66e4; font-weight: 500; }
  iframe { border: 0; width: 100%; height: 100%; }
  @media (max-width: 700px) { .layout { grid-template-columns: 1fr; } .side { display: none; } }
</style></head>
<body>
<div class="nav"><span class="logo"></span> Jira <span style="color:#44546f;font-weight:400">Settings · Apps</span></div>
<div class="layout">
  <nav class="side"><div>Manage apps</div><div>Find new apps</div><div class="current">APP_NAME</div></nav>
  <iframe id="app" title="APP_NAME" src="APP_URL"></iframe>
</div>
<script>
  var APP_ORIGIN = APP_ORIGIN_JSON;
  window.addEventListener("message", function (e) {
    var frame = document.getElementById("app");
    if (e.source !== frame.contentWindow || e.origin !== APP_ORIGIN) return;
    if (!e.data || e.data.type !== "ap-get-token") return;
    fetch("/context-token").then(function (r) { return r.text(); }).then(function (token) {
      frame.contentWindow.postMessage({ type: "ap-token", id: e.data.id, token: token }, APP_ORIGIN);
    });
  });
</script>
</body></html>
"""


@dataclass
class JiraHost:
    url: str
    signer: JiraSigner
    app_url: str
    tokens_issued: int = 0

    def page_url(self) -> str:
        return f"{self.url}/plugins/servlet/ac/admin"

    def admin_url(self) -> str:
        """The iframe URL Jira builds: context parameters, then a JWT bound to all of them."""
        path = "/admin?cp=&lic=none&tz=UTC&loc=en-US&xdm_c=channel-admin&xdm_e=" + self.url
        token = self.signer.request_token("GET", path)
        return f"{self.app_url}{path}&jwt={token}"


@contextmanager
def jira_host(signer: JiraSigner, app_url: str, app_name: str) -> Iterator[JiraHost]:
    """Serve the host page on a free loopback port; ``signer.jira_base_url`` must be its URL."""
    flask_app = Flask("jira_host")
    holder: dict[str, Any] = {}

    @flask_app.get("/plugins/servlet/ac/admin")
    def host_page() -> Response:
        host: JiraHost = holder["host"]
        html = (
            HOST_PAGE.replace("APP_NAME", app_name)
            .replace("APP_URL", host.admin_url())
            .replace("APP_ORIGIN_JSON", json.dumps(app_url))
        )
        return Response(html, mimetype="text/html")

    @flask_app.get("/context-token")
    def context_token() -> Response:
        host: JiraHost = holder["host"]
        host.tokens_issued += 1
        return Response(host.signer.context_token(), mimetype="text/plain")

    server = make_server("127.0.0.1", 0, flask_app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    signer.jira_base_url = url
    holder["host"] = host = JiraHost(url=url, signer=signer, app_url=app_url)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield host
    finally:
        server.shutdown()
        server.server_close()
