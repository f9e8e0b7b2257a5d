"""The admin page and its API over the Flask test client: what each token may do, and isolation."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.config import Settings
from provider.connect.models import Installation
from provider.ops.components.associations import PROJECT_ATI
from provider.ops.components.models import Component
from provider.ops.components.models import ComponentAssociation
from provider.ops.workspaces.models import Workspace
from provider.ops.workspaces.models import WorkspaceLink
from provider.ops.workspaces.service import create_workspace
from provider.outbox.models import MessageStatus
from provider.outbox.models import OutboxMessage
from tests.installs import make_installation
from tests.signing import JiraSigner


class Site:
    """One Jira site with the app installed, calling the admin API with context tokens."""

    def __init__(self, client: FlaskClient, signer: JiraSigner, installation: Installation):
        self.client = client
        self.signer = signer
        self.installation = installation

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"JWT {token or self.signer.context_token()}"}

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        kwargs.setdefault("headers", self.headers())
        return self.client.open(f"/admin/api{path}", method=method, **kwargs)

    def overview(self) -> dict[str, Any]:
        response = self.call("GET", "/overview")
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def create(self, name: str = "Payments") -> dict[str, Any]:
        response = self.call("POST", "/workspaces", json={"name": name})
        assert response.status_code == 201, response.get_json()
        return response.get_json()


def _site(client: FlaskClient, session: Session, settings: Settings, host: str) -> Site:
    signer = JiraSigner(settings.base_url, jira_base_url=f"https://{host}.atlassian.net")
    installation = make_installation(session, signer, display_url=f"https://{host}.example.com")
    session.commit()
    return Site(client, signer, installation)


@pytest.fixture
def acme(client: FlaskClient, session: Session, settings: Settings) -> Site:
    return _site(client, session, settings, "acme")


@pytest.fixture
def globex(client: FlaskClient, session: Session, settings: Settings) -> Site:
    return _site(client, session, settings, "globex")


def _error_code(response: Any) -> str:
    body = response.get_json()
    assert set(body) == {"errors"}, body
    return body["errors"][0]["code"]


# ── the page ───────────────────────────────────────────────────────────────────────────────────


def test_page_loads_with_a_page_token_and_may_be_framed_only_by_the_site(acme: Site) -> None:
    url = "/admin?xdm_e=https%3A%2F%2Fevil.example&lic=none&cp=&tz=UTC"
    response = acme.signer.get(acme.client, url)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "https://connect-cdn.atl-paas.net/all.js" in html
    assert "/admin/static/admin.js" in html
    csp = response.headers["Content-Security-Policy"]
    ancestors = csp.split("frame-ancestors", 1)[1].split(";")[0].split()
    # From the verified installation only; the unverified xdm_e parameter is ignored.
    assert ancestors == ["'self'", "https://acme.atlassian.net", "https://acme.example.com"]
    assert "script-src 'self' https://connect-cdn.atl-paas.net;" in csp
    assert "X-Frame-Options" not in response.headers


def test_page_without_a_token_is_refused_and_not_frameable(client: FlaskClient) -> None:
    response = client.get("/admin")
    assert response.status_code == 401
    assert _error_code(response) == "missing_token"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_page_refuses_a_context_token_and_a_token_for_another_url(acme: Site) -> None:
    response = acme.client.get("/admin?jwt=" + acme.signer.context_token())
    assert response.status_code == 401
    other = acme.signer.request_token("GET", "/admin/other")
    assert acme.client.get("/admin?jwt=" + other).status_code == 401
    forged = acme.signer.request_token(
        "GET", "/admin", secret="not-the-shared-secret-of-this-site-0123"
    )
    assert acme.client.get("/admin?jwt=" + forged).status_code == 401


def test_static_assets_are_served_without_a_token(client: FlaskClient) -> None:
    for name in ("admin.css", "admin.js"):
        response = client.get(f"/admin/static/{name}")
        assert response.status_code == 200
        assert response.get_data()
        response.close()


# ── tokens on the API ─────────────────────────────────────────────────────────────────────────


def test_api_refuses_the_page_token_and_request_tokens(acme: Site) -> None:
    page_token = acme.signer.request_token("GET", "/admin")
    assert acme.call("GET", "/overview", headers=acme.headers(page_token)).status_code == 401
    # Even a token whose qsh matches the API request itself: only context tokens are taken here.
    own = acme.signer.request_token("GET", "/admin/api/overview")
    response = acme.call("GET", "/overview", headers=acme.headers(own))
    assert response.status_code == 401
    assert _error_code(response) == "invalid_qsh"
    assert acme.client.get("/admin/api/overview").status_code == 401


def test_api_refuses_forged_expired_and_uninstalled_context_tokens(
    acme: Site, session: Session
) -> None:
    forged = acme.signer.context_token(secret="a-guessed-secret-that-is-long-enough-0123")
    assert acme.call("GET", "/overview", headers=acme.headers(forged)).status_code == 401
    expired = acme.signer.context_token(now=1_000_000, lifetime=180)
    assert acme.call("GET", "/overview", headers=acme.headers(expired)).status_code == 401
    forever = acme.signer.context_token(lifetime=10 * 365 * 86400)
    assert acme.call("GET", "/overview", headers=acme.headers(forever)).status_code == 401
    acme.installation.installed = False
    session.commit()
    assert acme.call("GET", "/overview").status_code == 401


def test_a_context_token_signed_with_another_sites_secret_is_refused(
    acme: Site, globex: Site
) -> None:
    token = acme.signer.context_token(secret=globex.signer.shared_secret)
    assert acme.call("GET", "/overview", headers=acme.headers(token)).status_code == 401


# ── workspaces ─────────────────────────────────────────────────────────────────────────────────


def test_create_workspace_links_it_and_shows_the_secrets_once(acme: Site, session: Session) -> None:
    created = acme.create("Payments")
    assert created["apiKey"].startswith("wsk_")
    assert created["linkCode"].startswith("wlc_")
    ws = created["workspace"]
    assert ws["name"] == "Payments"
    assert [c["name"] for c in ws["components"]] == ["Unassigned"]
    overview = acme.overview()
    assert [w["id"] for w in overview["workspaces"]] == [ws["id"]]
    assert "apiKey" not in str(overview)
    assert created["apiKey"] not in str(overview)
    kinds = session.scalars(
        select(OutboxMessage.kind).where(
            OutboxMessage.installation_id == acme.installation.id,
            OutboxMessage.status == MessageStatus.PENDING,
        )
    ).all()
    assert "linked_workspace" in kinds
    assert "component" in kinds


def test_link_with_a_code_and_unlink(acme: Site, globex: Site, session: Session) -> None:
    created = acme.create("Shared")
    response = globex.call("POST", "/workspaces/link", json={"linkCode": created["linkCode"]})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["workspace"]["name"] == "Shared"
    assert [w["name"] for w in globex.overview()["workspaces"]] == ["Shared"]

    ws_id = created["workspace"]["id"]
    assert globex.call("DELETE", f"/workspaces/{ws_id}").status_code == 200
    assert globex.overview()["workspaces"] == []
    assert [w["id"] for w in acme.overview()["workspaces"]] == [ws_id]
    deletes = session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.installation_id == globex.installation.id,
            OutboxMessage.operation == "delete",
        )
    ).all()
    assert [(m.kind, m.entity_id) for m in deletes] == [("linked_workspace", ws_id)]


def test_link_refuses_bad_codes_and_a_code_of_another_workspace(
    acme: Site, session: Session
) -> None:
    theirs, _key, their_code = create_workspace(session, "Theirs")
    mine, _key2, _my_code = create_workspace(session, "Mine")
    session.commit()
    response = acme.call("POST", "/workspaces/link", json={"linkCode": "wlc_nope"})
    assert response.status_code == 403
    assert _error_code(response) == "invalid_workspace_proof"
    response = acme.call(
        "POST", "/workspaces/link", json={"linkCode": their_code, "workspaceId": mine.public_id}
    )
    assert response.status_code == 403
    # The workspace key is not a link code here.
    response = acme.call("POST", "/workspaces/link", json={"linkCode": _key2})
    assert response.status_code == 403
    links = session.scalar(
        select(func.count())
        .select_from(WorkspaceLink)
        .where(WorkspaceLink.installation_id == acme.installation.id)
    )
    assert links == 0
    assert theirs.id != mine.id


def test_another_site_cannot_see_or_touch_a_workspace_by_id(
    acme: Site, globex: Site, session: Session
) -> None:
    created = acme.create("Private")
    ws_id = created["workspace"]["id"]
    made = acme.call("POST", f"/workspaces/{ws_id}/integrations", json={"name": "Grafana"})
    integration_id = made.get_json()["integration"]["id"]

    assert globex.overview()["workspaces"] == []
    assert globex.call("DELETE", f"/workspaces/{ws_id}").status_code == 404
    response = globex.call("POST", f"/workspaces/{ws_id}/integrations", json={"name": "X"})
    assert response.status_code == 404
    rotate = f"/workspaces/{ws_id}/integrations/{integration_id}/rotate-key"
    assert globex.call("POST", rotate).status_code == 404
    assert globex.call("POST", "/workspaces/link", json={"workspaceId": ws_id}).status_code == 422
    # Nothing changed for the owner.
    mine = acme.overview()["workspaces"]
    assert [w["id"] for w in mine] == [ws_id]
    assert [i["name"] for i in mine[0]["integrations"]] == ["Grafana"]
    assert mine[0]["integrations"][0]["keyRotatedAt"] is None


def test_a_new_link_code_links_one_more_site_once_and_the_audit_log_says_who(
    acme: Site, globex: Site, client: FlaskClient, session: Session, settings: Settings
) -> None:
    created = acme.create("Shared")
    ws_id = created["workspace"]["id"]
    issued = acme.call("POST", f"/workspaces/{ws_id}/link-code")
    assert issued.status_code == 201, issued.get_json()
    code = issued.get_json()["linkCode"]
    assert code.startswith("wlc_")
    assert code != created["linkCode"]
    assert issued.get_json()["expiresIn"] == 24 * 3600
    # The code from creation ended when a new one was issued.
    stale = globex.call("POST", "/workspaces/link", json={"linkCode": created["linkCode"]})
    assert stale.status_code == 403

    assert globex.call("POST", "/workspaces/link", json={"linkCode": code}).status_code == 200
    initech = _site(client, session, settings, "initech")
    again = initech.call("POST", "/workspaces/link", json={"linkCode": code})
    assert again.status_code == 403
    assert _error_code(again) == "invalid_workspace_proof"
    assert initech.overview()["workspaces"] == []

    events = acme.call("GET", f"/workspaces/{ws_id}/audit").get_json()["events"]
    actions = [e["action"] for e in events]
    assert actions[0] == "workspace.linked"
    assert {"workspace.created", "link_code.issued", "workspace.linked"} <= set(actions)
    linked = events[0]
    assert linked["site"] == globex.installation.client_key
    assert globex.installation.client_key in linked["actor"]
    assert code not in str(events)
    # Neither the codes nor the key are in the log.
    assert created["apiKey"] not in str(events)
    assert created["linkCode"] not in str(events)


def test_a_site_without_the_workspace_cannot_issue_codes_or_read_its_audit_log(
    acme: Site, globex: Site
) -> None:
    ws_id = acme.create("Private")["workspace"]["id"]
    assert globex.call("POST", f"/workspaces/{ws_id}/link-code").status_code == 404
    assert globex.call("GET", f"/workspaces/{ws_id}/audit").status_code == 404
    # A page token or a token for another URL does not reach them either.
    page = acme.signer.request_token("GET", "/admin")
    response = acme.call("POST", f"/workspaces/{ws_id}/link-code", headers=acme.headers(page))
    assert response.status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        None,
        "not json",
        [],
        {},
        {"name": ""},
        {"name": "   "},
        {"name": 42},
        {"name": "x" * 256},
        {"name": "nul\u0000byte"},
        {"name": "bell\u0007"},
    ],
)
def test_create_workspace_refuses_malformed_bodies(
    acme: Site, session: Session, body: object
) -> None:
    before = session.scalar(select(func.count()).select_from(Workspace))
    if isinstance(body, str):
        response = acme.call("POST", "/workspaces", data=body, content_type="application/json")
    else:
        response = acme.call("POST", "/workspaces", json=body)
    if isinstance(body, dict) and "\u0000" in str(body.get("name")):
        # text no database can store is refused before any field is read, as on /v1
        assert response.status_code == 400, response.get_json()
        assert _error_code(response) == "invalid_characters"
    elif isinstance(body, dict):
        assert response.status_code == 422, response.get_json()
        assert _error_code(response) == "validation_failed"
    else:
        assert response.status_code == 400, response.get_json()
        assert _error_code(response) == "invalid_json"
    assert session.scalar(select(func.count()).select_from(Workspace)) == before


def test_unknown_routes_and_methods_answer_with_the_error_body(acme: Site) -> None:
    assert acme.call("DELETE", "/workspaces/" + "x" * 5000).status_code == 404
    response = acme.call("PUT", "/overview")
    assert response.status_code == 405
    assert _error_code(response) == "method_not_allowed"


def test_components_show_their_jira_projects_for_this_site_only(
    acme: Site, globex: Site, session: Session
) -> None:
    created = acme.create("Shop")
    globex.call("POST", "/workspaces/link", json={"linkCode": created["linkCode"]})
    component = session.scalars(
        select(Component).where(Component.public_id == created["workspace"]["components"][0]["id"])
    ).one()
    session.add(
        ComponentAssociation(
            installation_id=acme.installation.id,
            component_id=component.id,
            ati=PROJECT_ATI,
            ari=f"ari:cloud:jira:{acme.signer.cloud_id}:project/10001",
            cloud_id=acme.signer.cloud_id,
            entity_id="10001",
        )
    )
    session.commit()
    mine = acme.overview()["workspaces"][0]["components"][0]["projects"]
    assert [p["id"] for p in mine] == ["10001"]
    assert globex.overview()["workspaces"][0]["components"][0]["projects"] == []


# ── integrations ───────────────────────────────────────────────────────────────────────────────


def test_integration_key_shown_once_works_and_rotation_replaces_it(
    acme: Site, settings: Settings
) -> None:
    ws_id = acme.create("Ops")["workspace"]["id"]
    response = acme.call("POST", f"/workspaces/{ws_id}/integrations", json={"name": "Prometheus"})
    assert response.status_code == 201, response.get_json()
    made = response.get_json()
    integration = made["integration"]
    assert integration["ingestionUrl"] == (
        f"{settings.base_url}/v1/integrations/{integration['id']}/events"
    )
    path = f"/v1/integrations/{integration['id']}/events"
    sent = acme.client.post(
        path, json={"message": "disk full"}, headers={"Authorization": f"GenieKey {made['apiKey']}"}
    )
    assert sent.status_code == 202, sent.get_json()
    overview = acme.overview()
    assert made["apiKey"] not in str(overview)

    rotated = acme.call("POST", f"/workspaces/{ws_id}/integrations/{integration['id']}/rotate-key")
    assert rotated.status_code == 200
    new_key = rotated.get_json()["apiKey"]
    assert new_key != made["apiKey"]
    old = acme.client.post(
        path, json={"message": "x"}, headers={"Authorization": f"GenieKey {made['apiKey']}"}
    )
    assert old.status_code == 401
    new = acme.client.post(
        path, json={"message": "x"}, headers={"Authorization": f"GenieKey {new_key}"}
    )
    assert new.status_code == 202
    duplicate = acme.call("POST", f"/workspaces/{ws_id}/integrations", json={"name": "Prometheus"})
    assert duplicate.status_code == 409


# ── delivery ───────────────────────────────────────────────────────────────────────────────────


def _message(session: Session, site: Site, status: MessageStatus, entity: str, error: str) -> None:
    session.add(
        OutboxMessage(
            installation_id=site.installation.id,
            kind="incident",
            operation="submit",
            entity_id=entity,
            group_key="ws",
            payload={"summary": f"Incident {entity}"},
            status=status,
            attempts=3,
            last_error=error,
        )
    )
    session.flush()


def test_delivery_health_lists_rejections_dead_letters_and_the_pause(
    acme: Site, globex: Site, session: Session
) -> None:
    _message(session, acme, MessageStatus.FAILED, "i-1", "Unknown project key 'OPS'")
    _message(session, acme, MessageStatus.DEAD, "i-2", "HTTP 503 after 8 attempts")
    _message(session, globex, MessageStatus.DEAD, "i-3", "globex only")
    from provider.times import utcnow

    acme.installation.delivery_paused_at = utcnow()
    acme.installation.delivery_paused_reason = "Jira answered 401"
    session.commit()

    delivery = acme.call("GET", "/delivery").get_json()
    assert delivery["counts"]["failed"] == 1
    assert delivery["counts"]["dead"] == 1
    assert delivery["failed"][0]["error"] == "Unknown project key 'OPS'"
    assert delivery["failed"][0]["entity"] == "Incident i-1"
    assert [m["entityId"] for m in delivery["dead"]] == ["i-2"]
    assert delivery["paused"] is True
    assert delivery["pausedReason"] == "Jira answered 401"
    # Nothing was sent yet: Jira has not said anything about the points.
    assert delivery["budget"]["pointsRemaining"] is None
    assert delivery["budget"]["incidentsOnly"] is False

    requeued = acme.call("POST", "/delivery/requeue")
    assert requeued.get_json() == {"requeued": 2}
    after = acme.call("GET", "/delivery").get_json()
    assert after["counts"]["pending"] == 2
    assert after["counts"]["dead"] == 0
    # The other site's dead letter is untouched.
    assert globex.call("GET", "/delivery").get_json()["counts"]["dead"] == 1


def test_resync_enqueues_everything_of_this_site_in_order(acme: Site, session: Session) -> None:
    acme.create("One")
    session.execute(OutboxMessage.__table__.delete())
    session.commit()
    response = acme.call("POST", "/delivery/resync")
    assert response.status_code == 200
    body = response.get_json()
    assert [s["label"] for s in body["steps"]] == [
        "linked workspaces",
        "components",
        "incidents",
        "reviews",
    ]
    assert body["steps"][0]["count"] == 1
    assert body["steps"][1]["count"] == 1
    assert body["total"] == sum(s["count"] for s in body["steps"])
    pending = acme.call("GET", "/delivery").get_json()["counts"]["pending"]
    assert pending == body["total"]
