"""The incident console's actions and its live refresh (the page itself is ``pages``).

Behind the workspace sign-in of the other pages, every action a form posted with the CSRF token
of the session. A responder acknowledges, notes, changes severity, resolves, links and unlinks
Jira issues; each goes on the timeline and to Jira (``provider.ops.incidents.responder``). A
wrong input shows the page again with the reason; a done action redirects back with a
confirmation (POST, redirect, GET: a reload never repeats it).
"""

from __future__ import annotations

from flask import Response
from flask import redirect
from flask import request
from flask import url_for
from sqlalchemy.orm import Session

from provider.db import get_session
from provider.errors import AppError
from provider.errors import Conflict
from provider.errors import NotFound
from provider.errors import ValidationFailed
from provider.ops.incidents import responder
from provider.ops.incidents.models import Incident
from provider.ops.incidents.service import require_incident
from provider.ops.incidents.timeline import RESPONDER
from provider.web import console_view
from provider.web import session as web_session
from provider.web.session import PageBlueprint

bp = PageBlueprint(
    "incident_console",
    __name__,
    static_folder="static/console",
    static_url_path="/console/static",
)

MAX_ID_LENGTH = 64


def _apply(session: Session, incident: Incident, action: str) -> str:
    """Do ``action``; the confirmation to show (a key of ``console_view.DONE_MESSAGES``)."""
    form = request.form
    if action == "acknowledge":
        changed = responder.acknowledge(session, incident, actor=RESPONDER)
        return "acknowledged" if changed else "unchanged"
    if action == "note":
        responder.add_note(session, incident, form.get("note", ""), actor=RESPONDER)
        return "noted"
    if action == "severity":
        changed = responder.change_severity(
            session, incident, form.get("severity", ""), form.get("cause", ""), actor=RESPONDER
        )
        return "severity" if changed else "unchanged"
    if action == "resolve":
        changed = responder.resolve(session, incident, actor=RESPONDER, cause=form.get("cause", ""))
        return "resolved" if changed else "unchanged"
    if action == "link":
        changed = responder.link_issue(session, incident, form.get("issue", ""), actor=RESPONDER)
        return "linked" if changed else "unchanged"
    changed = responder.unlink_issue(session, incident, form.get("issue", ""), actor=RESPONDER)
    return "unlinked" if changed else "unchanged"


ACTIONS = frozenset({"acknowledge", "note", "severity", "resolve", "link", "unlink"})


@bp.post("/incidents/<incident_id>/<action>")
def act(incident_id: str, action: str) -> Response:
    if action not in ACTIONS:
        raise NotFound("No such page.", code="not_found")
    web_session.check_csrf()
    session = get_session()
    workspace = web_session.require_signed_in(session)
    incident = require_incident(session, workspace.id, incident_id[:MAX_ID_LENGTH])
    try:
        done = _apply(session, incident, action)
    except (ValidationFailed, Conflict) as e:
        return _refused(session, workspace.id, incident_id, e)
    session.commit()
    target = url_for("object_pages.incident_page", incident_id=incident.public_id)
    return redirect(f"{target}?done={done}", code=303)  # type: ignore[return-value]


def _refused(session: Session, workspace_id: int, incident_id: str, error: AppError) -> Response:
    session.rollback()
    workspace = web_session.require_signed_in(session)
    incident = require_incident(session, workspace_id, incident_id[:MAX_ID_LENGTH])
    return console_view.render(
        session, workspace, incident, error=error.message, http_status=error.status
    )


@bp.get("/incidents/<incident_id>/live")
def live(incident_id: str) -> Response:
    session = get_session()
    workspace = web_session.require_signed_in(session)
    incident = require_incident(session, workspace.id, incident_id[:MAX_ID_LENGTH])
    return console_view.render_live(session, workspace, incident)
