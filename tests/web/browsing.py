"""The pages in a real Chromium, as a person meets them: the app and the Jira simulator on loopback.

``shop`` is the demo's world: a site that installed the app, a workspace linked to it with a
component, and a P1 alert that opened an incident on it, delivered to the simulator. Screenshots
go to ``$PAGE_SCREENSHOTS`` when set (a directory to look at them), else to the test's tmp_path.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from jira_simulator import Simulator
from provider.connect.models import Installation
from provider.ops.workspaces import linking
from provider.ops.workspaces.service import create_workspace
from tests.e2e.conftest import Stack
from tests.e2e.conftest import running_stack

SITE = "acme"


@dataclass
class Shop:
    stack: Stack
    sim: Simulator
    key: str
    workspace: str
    component: str
    incident: str

    @property
    def url(self) -> str:
        return self.stack.url

    def sign_in(self, page: Any, target: str) -> None:
        """Open ``target`` signed out, sign in with the workspace key, land on ``target``."""
        page.goto(self.url + target)
        page.get_by_label("Workspace key").fill(self.key)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(self.url + target)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(sites=(SITE,), seed=11) as simulator:
        yield simulator


@pytest.fixture
def stack(fresh_database_url: str, sim: Simulator) -> Iterator[Stack]:
    # The admin page loads the simulator's stand-in for Jira's all.js, as in the demo.
    js = f"{sim.url}/_sim/all.js"
    with running_stack(fresh_database_url, sim, connect_js_url=js) as running:
        yield running


@pytest.fixture
def shop(stack: Stack, sim: Simulator) -> Shop:
    assert sim.install(SITE, f"{stack.url}/atlassian-connect.json").ok
    with stack.live.session_factory.begin() as session:
        workspace, key, _code = create_workspace(session, "Demo Shop")
        installation = session.scalars(
            select(Installation).where(Installation.client_key == sim.site(SITE).client_key)
        ).one()
        linking.link_workspace(session, installation, api_key=key)
        workspace_id = workspace.public_id
    created = stack.api(key, "POST", "/v1/components", json={"name": "checkout-api"})
    assert created.status_code == 201, created.text
    sent = stack.api(
        key,
        "POST",
        "/v1/alerts",
        json={
            "message": "checkout-api: error rate above 5% for 5 minutes",
            "alias": "checkout-error-rate",
            "priority": "P1",
            "tags": ["component:checkout-api"],
        },
    )
    assert sent.status_code == 202, sent.text
    stack.run_worker()
    [incident] = stack.api(key, "GET", "/v1/incidents").json()["values"]
    assert incident["componentIds"] == [created.json()["id"]]
    return Shop(stack, sim, key, workspace_id, created.json()["id"], incident["id"])


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    directory = Path(os.environ.get("PAGE_SCREENSHOTS") or tmp_path)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture
def tab(browser: Any) -> Iterator[Any]:
    """A fresh browser tab (no cookies) that records script errors and outside requests."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    errors = record_errors(tab)
    yield tab
    context.close()
    # A page blocked by its own Content-Security-Policy says so on the console.
    assert errors == []


def record_errors(page: Any) -> list[str]:
    """The page's script errors and console errors, as they happen.

    A refused request (a 4xx the test asked for) is logged by the browser; that is not an error.
    """
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    return errors


def shot(page: Any, shots: Path, name: str) -> None:
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
