"""The simulator's stand-in for Jira's admin-page chrome: page JWT, context tokens, all.js."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import jwt as pyjwt
import requests

from jira_simulator import Simulator


def test_admin_frame_needs_an_installed_app(sim: Simulator) -> None:
    response = requests.get(f"{sim.url}/_sim/sites/acme/admin", timeout=5)
    assert response.status_code == 409
    assert "not installed" in response.json()[0]["message"]
    assert requests.get(f"{sim.url}/_sim/sites/acme/context-token", timeout=5).status_code == 409


def test_admin_frame_frames_the_page_with_a_page_jwt_and_hands_out_context_tokens(
    installed: Simulator,
) -> None:
    site = installed.site("acme")
    page = requests.get(f"{installed.url}/_sim/sites/acme/admin", timeout=5)
    assert page.status_code == 200
    src = html.unescape(re.search(r'<iframe[^>]+src="([^"]+)"', page.text).group(1))
    query = parse_qs(urlsplit(src).query)
    page_claims = pyjwt.decode(query["jwt"][0], site.shared_secret, algorithms=["HS256"])
    assert page_claims["iss"] == site.client_key
    assert page_claims["qsh"] != "context-qsh"
    assert query["xdm_e"] == [
        f"{urlsplit(site.base_url).scheme}://{urlsplit(site.base_url).netloc}"
    ]

    token = requests.get(f"{installed.url}/_sim/sites/acme/context-token", timeout=5).text
    claims = pyjwt.decode(token, site.shared_secret, algorithms=["HS256"])
    assert claims["qsh"] == "context-qsh"
    assert claims["iss"] == site.client_key
    assert claims["exp"] - claims["iat"] == 180

    script = requests.get(f"{installed.url}/_sim/all.js", timeout=5)
    assert script.headers["Content-Type"].startswith("application/javascript")
    assert "getToken" in script.text
