"""Read-only pages Jira links to: an incident (its ``url``) and a component (the default ``url``).

Behind the workspace sign-in of the review pages; another workspace's objects are unknown (404).
Also the default avatars the payloads name, served by the app so they never point nowhere.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from importlib import resources
from typing import Concatenate
from typing import ParamSpec
from urllib.parse import urlencode

from flask import Blueprint
from flask import Response
from flask import redirect
from flask import request
from flask import url_for
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.db import get_session
from provider.errors import NotFound
from provider.ops.components.service import require_component
from provider.ops.incidents.models import Incident
from provider.ops.incidents.models import IncidentComponent
from provider.ops.incidents.models import IncidentStatus
from provider.ops.incidents.service import require_incident
from provider.ops.workspaces.models import Workspace
from provider.times import iso
from provider.web import console_view
from provider.web import session as web_session
from provider.web.session import PageBlueprint
from provider.web.session import page

bp = PageBlueprint("object_pages", __name__, template_folder="templates")


static_bp = Blueprint("static_assets", __name__)


@bp.app_template_filter("iso")
def _iso(value: datetime | None) -> str:
    return iso(value) or ""


P = ParamSpec("P")
MAX_ALERTS_SHOWN = 200
MAX_INCIDENTS_SHOWN = 50
AVATARS = ("component.svg", "workspace.svg")


def _sign_in_first() -> Response:
    target = url_for("reviews_pages.sign_in_form") + "?" + urlencode({"next": request.path})
    return redirect(target, code=303)  # type: ignore[return-value]


def _signed_in(
    view: Callable[Concatenate[Session, Workspace, P], Response],
) -> Callable[P, Response]:
    """A page of the signed-in person's workspace; anyone else is sent to sign in first."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        session = get_session()
        workspace = web_session.signed_in_workspace(session)
        if workspace is None:
            return _sign_in_first()
        return view(session, workspace, *args, **kwargs)

    return wrapper


@bp.get("/incidents/<incident_id>")
@_signed_in
def incident_page(session: Session, workspace: Workspace, incident_id: str) -> Response:
    """The incident console (its actions and refresh are ``provider.web.console``)."""
    incident = require_incident(session, workspace.id, incident_id)
    return console_view.render(session, workspace, incident, done=request.args.get("done"))


@bp.get("/components/<component_id>")
@_signed_in
def component_page(session: Session, workspace: Workspace, component_id: str) -> Response:
    component = require_component(session, workspace.id, component_id)
    incidents_of = (
        select(Incident)
        .join(IncidentComponent, IncidentComponent.incident_id == Incident.id)
        .where(IncidentComponent.component_id == component.id)
    )
    open_count = session.scalar(
        select(func.count()).select_from(
            incidents_of.where(Incident.status != IncidentStatus.RESOLVED).subquery()
        )
    )
    incidents = list(
        session.scalars(
            incidents_of.order_by(Incident.created_at.desc(), Incident.id.desc()).limit(
                MAX_INCIDENTS_SHOWN
            )
        )
    )
    return page(
        "pages/component.html",
        workspace=workspace,
        component=component,
        open_count=open_count or 0,
        incidents=incidents,
    )


@static_bp.get("/static/<name>")
def avatar(name: str) -> Response:
    if name not in AVATARS:
        raise NotFound("No such file.", code="not_found")
    svg = resources.files("provider.web").joinpath("static", name).read_bytes()
    response = Response(svg, mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "public, max-age=86400"
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response
