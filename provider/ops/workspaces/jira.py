"""``fetchWorkspaces``: Jira asks which workspaces, of the ids it names, the site may show.

The answer holds only workspaces linked to the calling installation: an id the site may not see
answers exactly like an unknown one.
"""

from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import request
from sqlalchemy import bindparam
from sqlalchemy import select

from provider.connect.auth import current_installation
from provider.connect.auth import jira_jwt_required
from provider.db import get_session
from provider.db import read_only
from provider.ops.sync.links import links_of
from provider.ops.workspaces.models import Workspace
from provider.ops.workspaces.models import WorkspaceLink
from provider.ops.workspaces.schemas import FetchWorkspaces
from provider.ops.workspaces.schemas import WorkspaceCard
from provider.ops.workspaces.schemas import Workspaces
from provider.schema.endpoint import render
from provider.schema.parsing import decode_json
from provider.schema.parsing import parse_malformed_as_400

bp = Blueprint("jira_workspaces", __name__)

# Built once with bound parameters: Jira's calls are the hottest requests the app serves, and
# SQLAlchemy then reuses the compiled statement instead of building a new one per request.
_LINKED_WORKSPACES_BY_ID = (
    select(Workspace)
    .join(WorkspaceLink, WorkspaceLink.workspace_id == Workspace.id)
    .where(
        WorkspaceLink.installation_id == bindparam("installation_id"),
        Workspace.public_id.in_(bindparam("ids", expanding=True)),
    )
    .order_by(Workspace.name, Workspace.id)
)


@bp.post("/workspaces/list")
@read_only
@jira_jwt_required(qsh="request", forge=True)
def fetch_workspaces() -> Response:
    body = parse_malformed_as_400(FetchWorkspaces, decode_json(request.get_data(cache=True)))
    wanted = list(dict.fromkeys(body.ids))
    if not wanted:
        return render(Workspaces(workspaces=[]))
    session = get_session()
    rows = session.scalars(
        _LINKED_WORKSPACES_BY_ID, {"installation_id": current_installation().id, "ids": wanted}
    )
    links = links_of(session)
    return render(Workspaces(workspaces=[WorkspaceCard.of(w, links) for w in rows]))
