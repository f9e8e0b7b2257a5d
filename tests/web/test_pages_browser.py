"""Pages for browsers, in a real Chromium: error pages by content negotiation, the start page, and a
review written, confirmed and delivered to the simulator's Jira.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from tests.web.browsing import Shop
from tests.web.browsing import shot

pytestmark = pytest.mark.browser


def _json_error(shop: Shop, path: str, **headers: str) -> requests.Response:
    r = requests.get(shop.url + path, headers=headers, timeout=10)
    assert r.headers["Content-Type"] == "application/json"
    return r


def test_a_browser_gets_error_pages_and_an_api_client_json(
    tab: Any, shop: Shop, shots: Path
) -> None:
    # A missing page: the browser's request (Accept prefers text/html) gets a page, status kept.
    response = tab.goto(shop.url + "/no/such/page")
    assert response.status == 404
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "Accept" in response.headers["vary"]
    tab.get_by_role("heading", name="Page not found").wait_for()
    assert tab.title() == "Page not found · Operations Provider"
    tab.get_by_role("link", name="Go to the start page").wait_for()
    shot(tab, shots, "error-404")

    # The operations API opened in a browser: 401, a page saying how tools authenticate, and no
    # password dialog (no Basic challenge) in front of it.
    response = tab.goto(shop.url + "/v1/alerts")
    assert response.status == 401
    assert response.headers["www-authenticate"] == 'GenieKey realm="provider"'
    tab.get_by_text("This address is part of the operations API").wait_for()
    shot(tab, shots, "error-401-api")

    # An unknown incident, signed in: the same 404 as a tab.
    shop.sign_in(tab, f"/incidents/{shop.incident}")
    response = tab.goto(shop.url + "/incidents/no-such-incident")
    assert response.status == 404
    tab.get_by_text("Incident does not exist.").wait_for()
    shot(tab, shots, "error-404-incident")

    # API clients keep the JSON error body exactly, whatever else they accept.
    for headers in ({}, {"Accept": "*/*"}, {"Accept": "application/json, text/html"}):
        missing = _json_error(shop, "/no/such/page", **headers)
        assert missing.status_code == 404
        assert missing.json() == {
            "errors": [{"title": missing.json()["errors"][0]["title"], "code": "not_found"}]
        }
        alerts = _json_error(shop, "/v1/alerts", **headers)
        assert alerts.status_code == 401
        assert alerts.json()["errors"][0]["code"] == "unauthorized"
        assert "Basic" in alerts.headers["WWW-Authenticate"]


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_paths_other_products_call_keep_their_formats_even_for_a_browser(shop: Shop) -> None:
    # Opsgenie's paths answer in Opsgenie's shape; JSM's printed prefix and Jira's calls in JSON.
    opsgenie = _json_error(shop, "/v2/alerts", Accept=BROWSER_ACCEPT)
    assert opsgenie.status_code == 401
    assert set(opsgenie.json()) == {"message", "took", "requestId"}
    jsm = _json_error(shop, "/jsm/ops/api/cloud-1/v1/alerts", Accept=BROWSER_ACCEPT)
    assert jsm.status_code == 401
    assert jsm.json()["errors"][0]["code"] == "unauthorized"
    for path in ("/admin", "/containers/search?searchQuery=x"):
        jira = _json_error(shop, path, Accept=BROWSER_ACCEPT)
        assert jira.status_code == 401
        assert jira.json()["errors"][0]["code"].startswith("missing")


def test_the_start_page_says_what_the_service_is_and_links_onwards(
    tab: Any, shop: Shop, shots: Path
) -> None:
    response = tab.goto(shop.url + "/")
    assert response.status == 200
    tab.get_by_role("heading", name="Operations Provider").wait_for()
    tab.get_by_text("operations and DevOps-components provider for Jira Cloud").wait_for()
    shot(tab, shots, "landing")
    # Each link leads somewhere that answers.
    for name, path in (
        ("descriptor", "/atlassian-connect.json"),
        ("docs", "/v1/openapi.json"),
        ("health", "/healthz"),
    ):
        href = tab.locator(f"#{name}").get_attribute("href")
        assert href == path
        assert requests.get(shop.url + href, timeout=10).status_code == 200
    tab.get_by_role("link", name="Sign in").click()
    tab.get_by_label("Workspace key").wait_for()


def test_a_review_saved_in_the_browser_confirms_links_back_and_reaches_jira_with_lf(
    tab: Any, shop: Shop, shots: Path
) -> None:
    new = f"/reviews/new?incident={shop.incident}&component={shop.component}"
    tab.goto(shop.url + new)
    tab.get_by_label("Workspace key").fill("wsk_wrong")
    tab.get_by_role("button", name="Sign in").click()
    tab.get_by_role("alert").get_by_text("That key is not valid.").wait_for()
    shot(tab, shots, "sign-in-error")
    shop.sign_in(tab, new)
    shot(tab, shots, "review-new")

    # Typed lines: the browser submits the textarea with CRLF line endings.
    description = tab.get_by_label("Description")
    description.fill("")
    description.press_sequentially("Root cause: pool exhaustion.")
    description.press("Enter")
    description.press("Enter")
    description.press_sequentially("Actions: raise the pool size.")
    tab.get_by_role("button", name="Save review").click()
    tab.get_by_role("status").get_by_text("Review saved").wait_for()
    shot(tab, shots, "review-saved")

    # The confirmation is said once: a reload shows the review without it.
    review_url = tab.url
    tab.reload()
    tab.get_by_role("heading", name="Post-incident review").wait_for()
    assert tab.get_by_role("status").count() == 0
    tab.goto(review_url)

    shop.stack.run_worker()
    [review] = shop.sim.state("acme")["reviews"].values()
    assert review["description"] == (
        "Root cause: pool exhaustion.\n\nActions: raise the pool size."
    )
    assert review["reviews"] == [shop.incident]

    tab.get_by_role("link", name="Back to the incident").first.click()
    tab.wait_for_url(f"{shop.url}/incidents/{shop.incident}")


def test_the_component_page_lists_its_incidents(tab: Any, shop: Shop, shots: Path) -> None:
    shop.sign_in(tab, f"/components/{shop.component}")
    tab.get_by_role("heading", name="checkout-api").wait_for()
    tab.get_by_text("1 open", exact=True).wait_for()
    row = tab.get_by_role("row", name="checkout-api: error rate above 5% for 5 minutes")
    row.get_by_role("link").click()
    tab.wait_for_url(f"{shop.url}/incidents/{shop.incident}")
    tab.go_back()
    shot(tab, shots, "component")
