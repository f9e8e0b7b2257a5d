"""The app's admin page inside Jira (``adminPages`` and ``configurePage``) and its API.

Jira loads ``/admin`` in an iframe with a JWT bound to that URL (request qsh). The page's own
calls to ``/admin/api/...`` carry context tokens from ``AP.context.getToken()`` and nothing else:
a page token (or any token with a computed qsh) is refused there, and a context token is refused
on the page. Each installation sees and changes only what belongs to the workspaces linked to it.

Responses carry ``Content-Security-Policy: frame-ancestors`` built from the verified
installation's ``baseUrl``/``displayUrl``, never from request parameters such as ``xdm_e``.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint
from flask import Response
from flask import g
from flask import render_template
from flask import request

from provider.config import Settings
from provider.connect.auth import current_installation
from provider.connect.auth import jira_jwt_required
from provider.connect.models import Installation
from provider.db import get_session
from provider.errors import Forbidden
from provider.extension import SETTINGS
from provider.ops.integrations import service as integrations
from provider.ops.integrations.schemas import IntegrationCreate
from provider.ops.sync import service as sync
from provider.ops.sync.links import links_of
from provider.ops.workspaces import linking
from provider.ops.workspaces import service as workspaces
from provider.ops.workspaces.schemas import LinkWorkspace
from provider.ops.workspaces.schemas import WorkspaceCreate
from provider.outbox import admin as outbox_admin
from provider.schema.parsing import decode_json
from provider.schema.parsing import parse_model
from provider.web import admin_views as views

logger = logging.getLogger(__name__)

bp = Blueprint(
    "admin",
    __name__,
    url_prefix="/admin",
    template_folder="templates",
    static_folder="static/admin",
    static_url_path="/static",
)

Json = tuple[dict[str, Any], int]


def _settings() -> Settings:
    return SETTINGS.get()


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def frame_ancestors(installation: Installation | None) -> str:
    """The ``frame-ancestors`` sources for this installation: its Jira origins and the app."""
    sources = ["'self'"]
    if installation is not None:
        for url in (installation.base_url, installation.display_url):
            origin = _origin(url)
            if origin and origin not in sources:
                sources.append(origin)
    return " ".join(sources)


def _page_csp(installation: Installation | None) -> str:
    script_origin = _origin(_settings().connect_js_url) or ""
    return (
        "default-src 'none'; "
        f"script-src 'self' {script_origin}; "
        "style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; "
        f"frame-ancestors {frame_ancestors(installation)}"
    )


@bp.after_request
def _security_headers(response: Response) -> Response:
    # Before authentication (a refused token) no installation is known: nobody may frame it.
    installation: Installation | None = g.get("installation")
    if installation is None:
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
        )
    else:
        response.headers["Content-Security-Policy"] = _page_csp(installation)
    response.headers.pop("X-Frame-Options", None)
    response.headers["Cache-Control"] = "no-store"
    return response


def _json() -> Any:
    return decode_json(request.get_data(cache=True))


# ── the page ───────────────────────────────────────────────────────────────────────────────────


@bp.get("")
@jira_jwt_required(qsh="request")
def page() -> str:
    installation = current_installation()
    logger.info("admin page opened client_key=%s", installation.client_key)
    return render_template(
        "admin/page.html",
        app_name=_settings().app_name,
        connect_js_url=_settings().connect_js_url,
        site=views.site_json(installation),
    )


# ── the page's API (context tokens only) ──────────────────────────────────────────────────────


@bp.get("/api/overview")
@jira_jwt_required(qsh="context")
def overview() -> Json:
    installation = current_installation()
    session = get_session()
    return {
        "site": views.site_json(installation),
        "workspaces": [
            views.workspace_json(session, installation, ws)
            for ws in sync.linked_workspaces(session, installation)
        ],
        "delivery": views.delivery_json(session, installation),
    }, 200


@bp.post("/api/workspaces")
@jira_jwt_required(qsh="context")
def create_workspace() -> Json:
    """Create a workspace and link it to this site at once; its key and link code are shown once."""
    installation = current_installation()
    body = parse_model(WorkspaceCreate, _json())
    session = get_session()
    workspace, api_key, link_code = workspaces.create_workspace(session, body.name)
    linking.link_workspace(session, installation, link_code=link_code)
    session.commit()
    return {
        "workspace": views.workspace_json(session, installation, workspace),
        "apiKey": api_key,
        "linkCode": link_code,
    }, 201


@bp.post("/api/workspaces/link")
@jira_jwt_required(qsh="context")
def link_workspace() -> Json:
    """Link an existing workspace with its link code (optionally naming the workspace meant)."""
    installation = current_installation()
    body = parse_model(LinkWorkspace, _json())
    code, expected = body.link_code, body.workspace_id
    session = get_session()
    found = linking.find_workspace_by_proof(session, link_code=code)
    if expected and (found is None or found.public_id != expected):
        # A code for another workspace than the one named proves nothing about that one.
        raise Forbidden(
            "The link code does not belong to that workspace.", code="invalid_workspace_proof"
        )
    workspace = linking.link_workspace(session, installation, link_code=code)
    session.commit()
    return {"workspace": views.workspace_json(session, installation, workspace)}, 200


@bp.delete("/api/workspaces/<workspace_id>")
@jira_jwt_required(qsh="context")
def unlink_workspace(workspace_id: str) -> Json:
    installation = current_installation()
    session = get_session()
    workspace = linking.unlink_workspace(session, installation, workspace_id[:64])
    session.commit()
    return {"unlinked": workspace.public_id, "name": workspace.name}, 200


@bp.post("/api/workspaces/<workspace_id>/integrations")
@jira_jwt_required(qsh="context")
def create_integration(workspace_id: str) -> Json:
    """Create an integration of a linked workspace; its key is in this answer only."""
    installation = current_installation()
    data = parse_model(IntegrationCreate, _json())
    session = get_session()
    workspace = views.require_linked_workspace(session, installation, workspace_id)
    integration, key = integrations.create_integration(session, workspace.id, data)
    session.commit()
    return {
        "integration": views.integration_json(integration, links_of(get_session()).base_url),
        "apiKey": key,
    }, 201


@bp.post("/api/workspaces/<workspace_id>/integrations/<integration_id>/rotate-key")
@jira_jwt_required(qsh="context")
def rotate_integration_key(workspace_id: str, integration_id: str) -> Json:
    installation = current_installation()
    session = get_session()
    workspace = views.require_linked_workspace(session, installation, workspace_id)
    integration = integrations.require_integration(session, workspace.id, integration_id)
    key = integrations.rotate_key(session, integration)
    session.commit()
    return {
        "integration": views.integration_json(integration, links_of(get_session()).base_url),
        "apiKey": key,
    }, 200


@bp.get("/api/delivery")
@jira_jwt_required(qsh="context")
def delivery() -> Json:
    return views.delivery_json(get_session(), current_installation()), 200


@bp.post("/api/delivery/requeue")
@jira_jwt_required(qsh="context")
def requeue() -> Json:
    """Send this site's dead-lettered and rejected messages again."""
    installation = current_installation()
    session = get_session()
    count = outbox_admin.requeue(session, installation=installation)
    session.commit()
    logger.info("admin re-queued %s messages client_key=%s", count, installation.client_key)
    return {"requeued": count}, 200


@bp.post("/api/delivery/resync")
@jira_jwt_required(qsh="context")
def resync() -> Json:
    """Enqueue everything this site should have, family by family, in Jira's dependency order."""
    installation = current_installation()
    session = get_session()
    counts = {
        label: sync.run_backfill_step(session, installation, step)
        for label, step in sync.BACKFILL_STEPS
    }
    session.commit()
    steps = [{"label": label, "count": count} for label, count in counts.items()]
    total = sum(counts.values())
    logger.info("admin resync enqueued %s messages client_key=%s", total, installation.client_key)
    return {"steps": steps, "total": total}, 200
