"""``/v1/integrations``: integrations, their actions, the event endpoint and the dry run."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint
from flask import Response
from flask import g
from flask import request

from provider import netguard
from provider.config import Settings
from provider.db import get_session
from provider.errors import Forbidden
from provider.errors import NotFound
from provider.errors import ValidationFailed
from provider.extension import SETTINGS
from provider.ops.access.http import api_key_required
from provider.ops.access.http import authenticate
from provider.ops.access.http import json_body
from provider.ops.access.http import paginated
from provider.ops.access.http import parse_page
from provider.ops.access.http import take_rate_limit
from provider.ops.access.principal import CONFIGURE
from provider.ops.integrations import ingestion
from provider.ops.integrations import service as integrations
from provider.ops.integrations.models import Integration
from provider.ops.integrations.schemas import ActionInput
from provider.ops.integrations.schemas import IntegrationInput
from provider.ops.integrations.schemas import action_summary_json
from provider.ops.integrations.schemas import action_to_json
from provider.ops.integrations.schemas import integration_to_json

bp = Blueprint("ops_integrations", __name__, url_prefix="/v1/integrations")

Json = tuple[dict[str, Any], int]


def _settings() -> Settings:
    return SETTINGS.get()


def _url_check(url: str) -> None:
    netguard.check_url(url, allow_private=_settings().allow_private_outbound)


def _integration(integration_id: str) -> Integration:
    return integrations.require_integration(get_session(), g.workspace.id, integration_id)


def _empty() -> Response:
    return Response(status=200)


# ---------------------------------------------------------------------------------------------
# Integrations


@bp.get("")
@api_key_required(CONFIGURE)
def list_integrations() -> Json:
    page = parse_page()
    rows, total = integrations.list_integrations(
        get_session(), g.workspace.id, offset=page.offset, size=page.size
    )
    return paginated([integration_to_json(i) for i in rows], total, page), 200


@bp.post("")
@api_key_required(CONFIGURE)
def create_integration() -> Json:
    data = IntegrationInput.from_json(json_body(), partial=False)
    session = get_session()
    integration, key = integrations.create_integration(session, g.workspace.id, data)
    session.commit()
    # The key is shown this once; only its hash is stored.
    return {**integration_to_json(integration), "apiKey": key}, 201


@bp.get("/<integration_id>")
@api_key_required(CONFIGURE)
def get_integration(integration_id: str) -> Json:
    return integration_to_json(_integration(integration_id)), 200


@bp.patch("/<integration_id>")
@api_key_required(CONFIGURE)
def update_integration(integration_id: str) -> Json:
    integration = _integration(integration_id)
    data = IntegrationInput.from_json(json_body(), partial=True)
    session = get_session()
    integrations.update_integration(session, integration, data)
    session.commit()
    return integration_to_json(integration), 200


@bp.delete("/<integration_id>")
@api_key_required(CONFIGURE)
def delete_integration(integration_id: str) -> Response:
    integration = _integration(integration_id)
    session = get_session()
    integrations.delete_integration(session, integration)
    session.commit()
    return _empty()


@bp.post("/<integration_id>/rotate-api-key")
@api_key_required(CONFIGURE)
def rotate_key(integration_id: str) -> Json:
    integration = _integration(integration_id)
    session = get_session()
    key = integrations.rotate_key(session, integration)
    session.commit()
    return {"id": integration.public_id, "apiKey": key}, 200


# ---------------------------------------------------------------------------------------------
# Actions


@bp.get("/<integration_id>/actions")
@api_key_required(CONFIGURE)
def list_actions(integration_id: str) -> Json:
    integration = _integration(integration_id)
    page = parse_page()
    args = {k: request.args.get(k) or None for k in ("type", "direction", "domain", "name")}
    rows = integrations.list_actions(get_session(), integration, **args)
    window = rows[page.offset : page.offset + page.size]
    return paginated([action_summary_json(a) for a in window], len(rows), page), 200


@bp.post("/<integration_id>/actions")
@api_key_required(CONFIGURE)
def create_action(integration_id: str) -> Json:
    integration = _integration(integration_id)
    data = ActionInput.for_create(json_body(), url_check=_url_check)
    session = get_session()
    action = integrations.create_action(session, integration, data)
    session.commit()
    return action_to_json(action), 200


@bp.post("/<integration_id>/actions/test")
@api_key_required(CONFIGURE)
def test_actions(integration_id: str) -> Json:
    """Dry run: which action a sample payload would trigger and why; nothing is created."""
    integration = _integration(integration_id)
    body = json_body()
    sample = body.get("payload", body) if isinstance(body, dict) else body
    headers = body.get("headers") if isinstance(body, dict) else None
    context = ingestion.build_context(
        sample,
        integration_type=integration.type,
        headers=headers if isinstance(headers, dict) else None,
    )
    decision = ingestion.decide_for(get_session(), integration, context)
    return {"integrationId": integration.public_id, **decision.to_json()}, 200


@bp.get("/<integration_id>/actions/<action_id>")
@api_key_required(CONFIGURE)
def get_action(integration_id: str, action_id: str) -> Json:
    integration = _integration(integration_id)
    return action_to_json(integrations.require_action(get_session(), integration, action_id)), 200


@bp.patch("/<integration_id>/actions/<action_id>")
@api_key_required(CONFIGURE)
def update_action(integration_id: str, action_id: str) -> Json:
    integration = _integration(integration_id)
    session = get_session()
    action = integrations.require_action(session, integration, action_id)
    data = ActionInput.for_update(json_body(), action, url_check=_url_check)
    integrations.update_action(session, action, data)
    session.commit()
    return action_to_json(action), 200


@bp.delete("/<integration_id>/actions/<action_id>")
@api_key_required(CONFIGURE)
def delete_action(integration_id: str, action_id: str) -> Response:
    integration = _integration(integration_id)
    session = get_session()
    integrations.delete_action(
        session, integrations.require_action(session, integration, action_id)
    )
    session.commit()
    return _empty()


@bp.patch("/<integration_id>/actions/<action_id>/order")
@api_key_required(CONFIGURE)
def reorder_action(integration_id: str, action_id: str) -> Response:
    integration = _integration(integration_id)
    session = get_session()
    action = integrations.require_action(session, integration, action_id)
    body = json_body(optional=True)
    if not isinstance(body, dict):
        raise ValidationFailed("The request body must be a JSON object.")
    successor = body.get("successorId")
    if successor is not None and (not isinstance(successor, str) or len(successor) > 64):
        raise ValidationFailed(
            "successorId must be an action id", details={"source": {"pointer": "/successorId"}}
        )
    integrations.reorder_action(session, integration, action, successor or None)
    session.commit()
    return _empty()


# ---------------------------------------------------------------------------------------------
# Events


@bp.post("/<integration_id>/events")
def receive_event(integration_id: str) -> Json:
    """Take any JSON (or form-encoded mail) payload and run the integration's incoming actions.

    Only the integration's own key is accepted: a key of another workspace sees 404, a workspace
    key or another integration's key 403.
    """
    caller = authenticate()
    take_rate_limit(caller)
    session = get_session()
    integration = integrations.get_integration(session, caller.workspace.id, integration_id)
    if integration is None:
        raise NotFound("Integration does not exist.", code="integration_not_found")
    if caller.integration is None or caller.integration.public_id != integration.public_id:
        raise Forbidden(
            "Events must be sent with this integration's own API key.", code="access_denied"
        )
    if not integration.enabled:
        raise Forbidden("The integration is disabled.", code="integration_disabled")
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        payload: Any = request.form.to_dict()
    else:
        payload = json_body()
    context = ingestion.build_context(
        payload,
        integration_type=integration.type,
        headers=dict(request.headers),
        query=request.args.to_dict(),
    )
    result = ingestion.ingest(
        session, caller, integration, context, source_ip=request.remote_addr or ""
    )
    session.commit()  # the request is durable before the caller hears 202
    took = round(time.perf_counter() - g.get("started", time.perf_counter()), 3)
    return {
        "result": "Request will be processed",
        "requestId": result.request.public_id,
        "took": took,
    }, 202
