"""Jira's calls into incidents: the issue webhooks the descriptor subscribes to.

Like every Jira call the webhook carries a JWT bound to the request (``qsh``), signed with the
calling installation's shared secret; a missing, forged or misbound token is a 401 and changes
nothing.
"""

from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import request

from provider.connect.auth import current_installation
from provider.connect.auth import jira_jwt_required
from provider.db import get_session
from provider.ops.incidents import issue_events
from provider.ops.incidents.issue_schemas import IssueWebhook
from provider.schema.parsing import decode_json
from provider.schema.parsing import parse_malformed_as_400

bp = Blueprint("jira_issue_events", __name__)

WEBHOOK_PATH = "/jira/issue-events"


@bp.post(WEBHOOK_PATH)
@jira_jwt_required(qsh="request", forge=True)
def issue_event() -> Response:
    body = parse_malformed_as_400(IssueWebhook, decode_json(request.get_data(cache=True)))
    session = get_session()
    issue_events.on_issue_webhook(session, current_installation(), body)
    session.commit()
    return Response(status=204)
