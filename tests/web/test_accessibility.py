"""axe-core over every page a person opens, in a real Chromium: no serious or critical violation.

A page is one entry of ``PAGES``: where it is (given the demo's world, ``Shop``), whether a
person is signed in to the workspace first, and what shows that it has finished loading.
Screenshots go with the others (``$PAGE_SCREENSHOTS``), named ``axe-<page>.png``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.web.browsing import SITE
from tests.web.browsing import Shop
from tests.web.browsing import shot

pytestmark = pytest.mark.browser

BLOCKING = ("serious", "critical")


@dataclass(frozen=True)
class Visit:
    name: str
    path: Callable[[Shop], str]
    signed_in: bool = False
    # What is on screen once the page has loaded (a CSS selector).
    ready: str = "main"
    # The page is framed by Jira: axe runs in the frame whose URL starts with the app's.
    framed: bool = False
    # What the person does on the page before it is checked (a state of it: errors, a notice).
    then: Callable[[Any], None] | None = None


def _save_empty(tab: Any) -> None:
    tab.get_by_label("Summary").fill("")
    tab.get_by_role("checkbox").first.uncheck()
    # The browser's own check of "required" would stop the form before the server sees it.
    tab.locator("form[action]").last.evaluate("f => f.noValidate = true")
    tab.get_by_role("button", name="Save review").click()
    tab.locator("#form-errors").wait_for()


def _save(tab: Any) -> None:
    tab.get_by_role("button", name="Save review").click()
    tab.locator("#notice").wait_for()


def _review(shop: Shop) -> str:
    created = shop.stack.api(
        shop.key,
        "POST",
        "/v1/reviews",
        json={"incidentIds": [shop.incident], "summary": "Why checkout failed"},
    )
    assert created.status_code == 201, created.text
    return f"/reviews/{created.json()['id']}"


PAGES = [
    Visit("landing", lambda shop: "/"),
    Visit("error", lambda shop: "/no/such/page", ready=".error-state"),
    Visit("api-error", lambda shop: "/v1/alerts", ready=".error-state"),
    Visit("sign-in", lambda shop: "/reviews/sign-in", ready="form"),
    Visit("component", lambda shop: f"/components/{shop.component}", signed_in=True),
    Visit(
        "review-new",
        lambda shop: f"/reviews/new?incident={shop.incident}&component={shop.component}",
        signed_in=True,
    ),
    Visit("review", _review, signed_in=True),
    Visit("review-saved", _review, signed_in=True, then=_save),
    Visit(
        "review-errors",
        lambda shop: f"/reviews/new?incident={shop.incident}",
        signed_in=True,
        then=_save_empty,
    ),
    Visit("incident", lambda shop: f"/incidents/{shop.incident}", signed_in=True),
    Visit(
        "admin",
        lambda shop: f"{shop.sim.url}/_sim/sites/{SITE}/admin",
        ready="#workspaces:not([aria-busy])",
        framed=True,
    ),
]


def _describe(violations: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{v['impact']}: {v['id']} ({v['help']}) at "
        + ", ".join(str(node["target"]) for node in v["nodes"][:5])
        for v in violations
    )


@pytest.mark.parametrize("visit", PAGES, ids=[v.name for v in PAGES])
def test_no_serious_or_critical_violation(tab: Any, shop: Shop, shots: Path, visit: Visit) -> None:
    axe_playwright = pytest.importorskip("axe_playwright_python.sync_playwright")
    path = visit.path(shop)
    url = path if path.startswith("http") else shop.url + path
    if visit.signed_in:
        shop.sign_in(tab, path)
    else:
        tab.goto(url)
    target = tab
    if visit.framed:
        tab.frame_locator("#app").locator(visit.ready).wait_for()
        [target] = [f for f in tab.frames if f.url.startswith(shop.url)]
    else:
        tab.locator(visit.ready).first.wait_for()
    if visit.then is not None:
        visit.then(tab)
    shot(tab, shots, f"axe-{visit.name}")

    results = axe_playwright.Axe().run(target)
    blocking = [v for v in results.response["violations"] if v["impact"] in BLOCKING]
    assert blocking == [], _describe(blocking)


def test_the_check_sees_a_violation_when_there_is_one(tab: Any) -> None:
    """The run above would pass on a page axe never looked at: this one must fail it."""
    axe_playwright = pytest.importorskip("axe_playwright_python.sync_playwright")
    tab.set_content(
        '<html lang="en"><title>x</title><main><form><input type="text"></form>'
        '<p style="color:#ddd">faint</p></main></html>'
    )
    results = axe_playwright.Axe().run(tab)
    found = {v["id"] for v in results.response["violations"] if v["impact"] in BLOCKING}
    assert {"label", "color-contrast"} <= found
