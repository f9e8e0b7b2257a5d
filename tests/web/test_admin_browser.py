"""The admin page in a real Chromium, framed by a Jira stand-in, against the live app on loopback.

Each state is saved as a screenshot under the test's ``tmp_path``. Without Chromium these tests
skip with the reason.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import delete
from sqlalchemy import select
from werkzeug.serving import make_server

from provider.app import create_app
from provider.db import make_session_factory
from provider.ops.heartbeats.expiry import expire_due
from provider.ops.sync.links import bind_links
from provider.ops.workspaces.service import create_workspace
from provider.outbox.models import MessageStatus
from provider.outbox.models import OutboxMessage
from provider.times import utcnow
from tests.chromium import launched
from tests.conftest import make_settings
from tests.installs import make_installation
from tests.signing import JiraSigner
from tests.web.browsing import record_errors
from tests.web.jira_host import FAKE_ALL_JS
from tests.web.jira_host import jira_host

pytestmark = pytest.mark.browser

ALL_JS = "https://connect-cdn.atl-paas.net/all.js"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched() as chromium:
        yield chromium


class Live:
    def __init__(self, database_url: str) -> None:
        self.server = make_server("127.0.0.1", 0, _Dispatch(), threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.settings = make_settings(database_url, base_url=self.url)
        self.server.app.app = create_app(self.settings, configure_logs=False)  # type: ignore[attr-defined]
        self.session_factory = bind_links(
            make_session_factory(self.settings), self.settings.base_url
        )
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.session_factory.kw["bind"].dispose()


class _Dispatch:
    app: Any = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.app(environ, start_response)


@pytest.fixture
def live(fresh_database_url: str) -> Iterator[Live]:
    app = Live(fresh_database_url)
    try:
        yield app
    finally:
        app.close()


@pytest.fixture
def site(live: Live) -> Iterator[Any]:
    signer = JiraSigner(live.url)
    with jira_host(signer, live.url, live.settings.app_name) as host:
        with live.session_factory.begin() as session:
            host.installation_id = make_installation(session, signer).id  # type: ignore[attr-defined]
        yield host


@pytest.fixture
def page(browser: Any, site: Any, tmp_path: Path) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    requests: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    context.route(
        ALL_JS,
        lambda route: route.fulfill(
            status=200, content_type="application/javascript", body=FAKE_ALL_JS
        ),
    )
    page = context.new_page()
    # Refused requests (the wrong link code) are logged by the browser; script errors are not ok.
    errors = record_errors(page)
    page.requests = requests  # type: ignore[attr-defined]
    page.errors = errors  # type: ignore[attr-defined]
    yield page
    context.close()
    # The page loads nothing from the network but Jira's all.js (and the loopback servers).
    outside = [
        u for u in requests if urlsplit(u).hostname not in ("127.0.0.1", None) and u != ALL_JS
    ]
    assert outside == []


def _shot(page: Any, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)


def _frame(page: Any, site: Any) -> Any:
    page.goto(site.page_url())
    frame = page.frame_locator("#app")
    frame.locator("#workspaces").wait_for()
    frame.locator("#workspaces[aria-busy]").wait_for(state="detached")
    return frame


def test_create_link_integrations_and_unlink(
    page: Any, site: Any, live: Live, tmp_path: Path
) -> None:
    frame = _frame(page, site)
    frame.get_by_role("heading", name="No workspaces linked yet").wait_for()
    _shot(page, tmp_path, "01-empty")

    # Create, with the keyboard only: the label leads to the input, Enter submits.
    frame.get_by_label("Workspace name").fill("Payments")
    frame.get_by_label("Workspace name").press("Enter")
    frame.get_by_role("heading", name="Payments").wait_for()
    api_key = frame.locator("#new-api-key").input_value()
    link_code = frame.locator("#new-link-code").input_value()
    assert api_key.startswith("wsk_")
    assert link_code.startswith("wlc_")
    assert frame.get_by_role("cell", name="Unassigned fallback").count() == 1
    _shot(page, tmp_path, "02-created")

    # An integration: its ingestion URL and its key, once.
    card = frame.locator("article", has=frame.get_by_role("heading", name="Payments"))
    card.get_by_label("New integration name").fill("Prometheus")
    card.get_by_role("button", name="Create integration").click()
    frame.locator("#integration-key").wait_for()
    first_key = frame.locator("#integration-key").input_value()
    assert first_key.startswith("itk_") or len(first_key) > 20
    assert re.search(
        r"/v1/integrations/[0-9a-f-]+/events$", frame.locator("#integration-url").input_value()
    )
    frame.get_by_role("cell", name=re.compile("Prometheus")).wait_for()
    _shot(page, tmp_path, "03-integration")

    card.get_by_role("button", name="Rotate key").click()
    frame.get_by_text("Key of “Prometheus” rotated").wait_for()
    assert frame.locator("#integration-key").input_value() != first_key
    _shot(page, tmp_path, "04-rotated")

    # A fresh one-time link code, and the activity that records who did what.
    card.get_by_role("button", name="New link code").click()
    frame.get_by_text("Link code for “Payments”").wait_for()
    fresh = frame.locator("#issued-link-code").input_value()
    assert fresh.startswith("wlc_")
    assert fresh != link_code
    card.get_by_text("Activity").click()
    card.get_by_role("cell", name="Integration key rotated").wait_for()
    # One code at creation, one just now; the newest first.
    assert card.get_by_role("cell", name="Link code issued").count() == 2
    assert card.locator("tbody tr").last.get_by_role("cell").nth(1).inner_text() == (
        "Workspace created"
    )
    _shot(page, tmp_path, "04b-activity")

    # Link an existing workspace with its link code.
    with live.session_factory.begin() as session:
        _ws, _key, code = create_workspace(session, "Search")
    frame.get_by_role("textbox", name="Link code", exact=True).fill(code)
    frame.get_by_role("button", name="Link workspace").click()
    frame.get_by_role("heading", name="Search").wait_for()
    frame.get_by_text("Workspace linked").wait_for()
    _shot(page, tmp_path, "05-linked")

    # A wrong code is an error on the field; nothing is linked.
    frame.get_by_role("textbox", name="Link code", exact=True).fill("wlc_not-a-real-code")
    frame.get_by_role("button", name="Link workspace").click()
    frame.get_by_text("The link code or workspace key is not valid").wait_for()
    _shot(page, tmp_path, "06-link-error")

    # Unlink asks first and says what Jira will do; Escape cancels.
    card.get_by_role("button", name="Unlink").click()
    dialog = frame.get_by_role("dialog")
    dialog.get_by_text("Jira will remove this workspace's incidents").wait_for()
    _shot(page, tmp_path, "07-unlink-dialog")
    page.keyboard.press("Escape")
    assert frame.get_by_role("heading", name="Payments").count() == 1
    card.get_by_role("button", name="Unlink").click()
    dialog.get_by_role("button", name="Unlink").click()
    frame.get_by_text("Workspace unlinked").wait_for()
    frame.get_by_role("heading", name="Payments").wait_for(state="detached")
    assert frame.get_by_role("heading", name="Search").count() == 1
    _shot(page, tmp_path, "08-unlinked")
    assert site.tokens_issued >= 8
    assert page.errors == []


def test_requeue_and_resync_with_progress(page: Any, site: Any, live: Live, tmp_path: Path) -> None:
    installation_id = site.installation_id
    with live.session_factory.begin() as session:
        _ws, _key, code = create_workspace(session, "Checkout")
        for status, entity, error in (
            (MessageStatus.FAILED, "inc-1", "projectKey 'OPS' does not exist"),
            (MessageStatus.DEAD, "inc-2", "HTTP 503: service unavailable (8 attempts)"),
        ):
            session.add(
                OutboxMessage(
                    installation_id=installation_id,
                    kind="incident",
                    operation="submit",
                    entity_id=entity,
                    group_key="x",
                    payload={"summary": f"Checkout is down ({entity})"},
                    status=status,
                    attempts=8,
                    last_error=error,
                )
            )
    frame = _frame(page, site)
    frame.get_by_role("textbox", name="Link code", exact=True).fill(code)
    frame.get_by_role("button", name="Link workspace").click()
    frame.get_by_role("heading", name="Checkout").wait_for()
    frame.get_by_role("cell", name="projectKey 'OPS' does not exist").wait_for()
    frame.get_by_role("cell", name="HTTP 503: service unavailable (8 attempts)").wait_for()
    frame.locator("#delivery-title").scroll_into_view_if_needed()
    _shot(page, tmp_path, "09-delivery-problems")

    frame.get_by_role("button", name="Re-queue failed messages").click()
    frame.get_by_text("Re-queued 2 messages").wait_for()
    frame.get_by_text("Nothing was rejected.").wait_for()
    frame.get_by_text("No dead letters.").wait_for()
    assert frame.get_by_role("button", name="Re-queue failed messages").is_disabled()
    frame.locator("#delivery-title").scroll_into_view_if_needed()
    _shot(page, tmp_path, "10-requeued")

    frame.get_by_role("button", name="Resync everything").click()
    frame.get_by_text(re.compile(r"Resync: \d+ of \d+ delivered")).wait_for()
    frame.locator("#delivery-title").scroll_into_view_if_needed()
    _shot(page, tmp_path, "11-resync-progress")
    # The worker's part, done here: what was pending has been delivered.
    with live.session_factory.begin() as session:
        session.execute(delete(OutboxMessage).where(OutboxMessage.status == MessageStatus.PENDING))
    frame.get_by_text(re.compile(r"Resync complete: \d+ messages delivered")).wait_for()
    frame.locator("#delivery-title").scroll_into_view_if_needed()
    _shot(page, tmp_path, "12-resync-done")
    with live.session_factory() as session:
        assert session.scalars(select(OutboxMessage)).all() == []
    assert page.errors == []


def test_narrow_width_and_error_state(browser: Any, site: Any, live: Live, tmp_path: Path) -> None:
    context = browser.new_context(viewport={"width": 420, "height": 800})
    context.route(
        ALL_JS,
        lambda route: route.fulfill(
            status=200, content_type="application/javascript", body=FAKE_ALL_JS
        ),
    )
    page = context.new_page()
    try:
        with live.session_factory.begin() as session:
            _ws, _key, code = create_workspace(session, "Mobile")
        frame = _frame(page, site)
        frame.get_by_role("textbox", name="Link code", exact=True).fill(code)
        frame.get_by_role("button", name="Link workspace").click()
        frame.get_by_role("heading", name="Mobile").wait_for()
        width = frame.locator("body").evaluate("b => b.scrollWidth")
        assert width <= 420
        _shot(page, tmp_path, "13-narrow")

        # The site is uninstalled meanwhile: the page shows an error state, not a blank page.
        from provider.connect.models import Installation

        with live.session_factory.begin() as session:
            session.get(Installation, site.installation_id).installed = False
        frame.get_by_role("textbox", name="Link code", exact=True).fill(code)
        frame.get_by_role("button", name="Link workspace").click()
        frame.locator(".field-error").wait_for()
        _shot(page, tmp_path, "14-error")
    finally:
        context.close()


def test_heartbeats_show_their_interval_last_ping_and_state(
    page: Any, site: Any, live: Live, tmp_path: Path
) -> None:
    frame = _frame(page, site)
    frame.get_by_label("Workspace name").fill("Backups")
    frame.get_by_label("Workspace name").press("Enter")
    frame.get_by_role("heading", name="Backups").wait_for()
    frame.get_by_text("No heartbeats yet.").wait_for()
    key = frame.locator("#new-api-key").input_value()
    headers = {"Authorization": f"GenieKey {key}"}
    for name, enabled in (("nightly-backup", True), ("hourly-sync", True), ("paused", False)):
        body = {"name": name, "interval": 1, "intervalUnit": "hours", "enabled": enabled}
        created = requests.post(f"{live.url}/v2/heartbeats", json=body, headers=headers, timeout=5)
        assert created.status_code == 201
    assert expire_due(live.session_factory, now=utcnow() + timedelta(minutes=61)) == 2
    # A ping ends one expiry; the other stays expired.
    pinged = requests.get(
        f"{live.url}/v2/heartbeats/nightly-backup/ping", headers=headers, timeout=5
    )
    assert pinged.status_code == 202

    frame = _frame(page, site)
    table = frame.locator("table[data-heartbeats]")
    table.wait_for()
    rows = {
        cells[0]: [cells[1], cells[2], cells[3].lower()]
        for cells in (
            row.locator("td").all_inner_texts() for row in table.locator("tbody tr").all()
        )
    }
    assert rows["paused"] == ["1 hour", "Never", "disabled"]
    assert rows["hourly-sync"] == ["1 hour", "Never", "expired"]
    assert rows["nightly-backup"][0] == "1 hour"
    assert rows["nightly-backup"][1] != "Never"
    assert rows["nightly-backup"][2] == "active"
    _shot(page, tmp_path, "heartbeats")
    assert page.errors == []  # type: ignore[attr-defined]
