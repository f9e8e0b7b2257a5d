"""``/v1/integrations``: integrations, their actions, the event endpoint and the dry run."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any
from typing import TypeVar
from typing import cast

from flask import Blueprint
from flask import g
from flask import request

from provider import netguard
from provider.db import get_session
from provider.db import separate_session
from provider.errors import Forbidden
from provider.extension import SETTINGS
from provider.ops.access.http import API_KEY_AUTH
from provider.ops.access.http import authenticate
from provider.ops.access.http import principal
from provider.ops.access.http import take_rate_limit
from provider.ops.access.principal import CONFIGURE
from provider.ops.integrations import ingestion
from provider.ops.integrations import models
from provider.ops.integrations import service as integrations
from provider.ops.integrations.event_schemas import DryRun
from provider.ops.integrations.event_schemas import DryRunBody
from provider.ops.integrations.event_schemas import EventAccepted
from provider.ops.integrations.event_schemas import EventPayload
from provider.ops.integrations.schemas import ActionQuery
from provider.ops.integrations.schemas import Integration
from provider.ops.integrations.schemas import IntegrationAction
from provider.ops.integrations.schemas import IntegrationActionCreate
from provider.ops.integrations.schemas import IntegrationActionSummary
from provider.ops.integrations.schemas import IntegrationActionUpdate
from provider.ops.integrations.schemas import IntegrationCreate
from provider.ops.integrations.schemas import IntegrationUpdate
from provider.ops.integrations.schemas import IntegrationWithKey
from provider.ops.integrations.schemas import KeyRotation
from provider.ops.integrations.schemas import ReorderBody
from provider.ops.routes import Owned
from provider.ops.routes import Routes
from provider.schema.endpoint import endpoint
from provider.schema.endpoint import mark_auth
from provider.schema.pages import Page
from provider.schema.pages import PageQuery
from provider.schema.pages import page_of

bp = Blueprint("ops_integrations", __name__, url_prefix="/v1/integrations")

TAG = "Integrations"
route = Routes(bp, TAG, reads=CONFIGURE, writes=CONFIGURE)
INTEGRATION = Owned("integration", integrations.require_integration, Integration)
DONE = "Done; no body."
F = TypeVar("F", bound=Callable[..., Any])


def _url_check(url: str) -> None:
    netguard.check_url(url, allow_private=SETTINGS.get().allow_private_outbound)


def _integration(integration_id: str) -> models.Integration:
    return integrations.require_integration(get_session(), g.workspace.id, integration_id)


def _action(integration_id: str, action_id: str) -> models.IntegrationAction:
    return integrations.require_action(get_session(), _integration(integration_id), action_id)


# ---------------------------------------------------------------------------------------------
# Integrations


list_integrations = route.owned(
    "GET", "", "List integrations", INTEGRATION, integrations.list_integrations, query=PageQuery
)


@route(
    "POST",
    "",
    "Create an integration (its key is shown once)",
    {201: IntegrationWithKey},
    body=IntegrationCreate,
    errors=[409],
)
def create_integration(body: IntegrationCreate) -> IntegrationWithKey:
    session = get_session()
    integration, key = integrations.create_integration(
        session, g.workspace.id, body, actor=principal().actor
    )
    session.commit()
    # The key is shown this once; only its hash is stored.
    return IntegrationWithKey.of(integration, api_key=key)


get_integration = route.owned("GET", "/<integration_id>", "Get an integration", INTEGRATION)


@route(
    "PATCH",
    "/<integration_id>",
    "Update an integration",
    {200: Integration},
    body=IntegrationUpdate,
    errors=[409],
)
def update_integration(integration_id: str, body: IntegrationUpdate) -> Integration:
    integration = _integration(integration_id)
    session = get_session()
    integrations.update_integration(session, integration, body, actor=principal().actor)
    session.commit()
    return Integration.of(integration)


@route("DELETE", "/<integration_id>", "Delete an integration and its actions", {200: DONE})
def delete_integration(integration_id: str) -> None:
    session = get_session()
    integrations.delete_integration(session, _integration(integration_id), actor=principal().actor)
    session.commit()


@route(
    "POST",
    "/<integration_id>/rotate-api-key",
    "Replace the integration's key (the old one stops at once)",
    {200: KeyRotation},
)
def rotate_integration_key(integration_id: str) -> KeyRotation:
    integration = _integration(integration_id)
    session = get_session()
    key = integrations.rotate_key(session, integration, actor=principal().actor)
    session.commit()
    return KeyRotation(id=integration.public_id, api_key=key)


# ---------------------------------------------------------------------------------------------
# Actions


@route.get(
    "/<integration_id>/actions",
    "List actions in evaluation order",
    Page[IntegrationActionSummary],
    query=ActionQuery,
)
def list_integration_actions(
    integration_id: str, query: ActionQuery
) -> Page[IntegrationActionSummary]:
    rows = integrations.list_actions(
        get_session(),
        _integration(integration_id),
        type=query.type or None,
        direction=query.direction or None,
        domain=query.domain or None,
        name=query.name or None,
    )
    window = rows[query.offset : query.offset + query.size]
    values = [IntegrationActionSummary.of(a) for a in window]
    return Page[IntegrationActionSummary](**page_of(values, len(rows), query))


@route(
    "POST",
    "/<integration_id>/actions",
    "Create an action (200, as JSM)",
    {200: IntegrationAction},
    body=IntegrationActionCreate,
)
def create_integration_action(
    integration_id: str, body: IntegrationActionCreate
) -> IntegrationAction:
    integration = _integration(integration_id)
    session = get_session()
    action = integrations.create_action(session, integration, body, url_check=_url_check)
    session.commit()
    return IntegrationAction.of(action)


@route(
    "POST",
    "/<integration_id>/actions/test",
    "Dry run: which action a sample payload triggers, and why; writes nothing",
    {200: DryRun},
    body=DryRunBody,
    operation_id="testIntegrationActions",
)
def dry_run(integration_id: str, body: DryRunBody) -> DryRun:
    integration = _integration(integration_id)
    context = ingestion.build_context(
        body.payload, integration_type=integration.type, headers=body.headers
    )
    return DryRun.of(integration, ingestion.decide_for(get_session(), integration, context))


@route.get("/<integration_id>/actions/<action_id>", "Get an action", IntegrationAction)
def get_integration_action(integration_id: str, action_id: str) -> IntegrationAction:
    return IntegrationAction.of(_action(integration_id, action_id))


@route(
    "PATCH",
    "/<integration_id>/actions/<action_id>",
    "Update an action",
    {200: IntegrationAction},
    body=IntegrationActionUpdate,
)
def update_integration_action(
    integration_id: str, action_id: str, body: IntegrationActionUpdate
) -> IntegrationAction:
    action = _action(integration_id, action_id)
    session = get_session()
    integrations.update_action(session, action, body, url_check=_url_check)
    session.commit()
    return IntegrationAction.of(action)


@route("DELETE", "/<integration_id>/actions/<action_id>", "Delete an action", {200: DONE})
def delete_integration_action(integration_id: str, action_id: str) -> None:
    session = get_session()
    integrations.delete_action(session, _action(integration_id, action_id))
    session.commit()


@route(
    "PATCH",
    "/<integration_id>/actions/<action_id>/order",
    "Move an action before its new successor",
    {200: DONE},
    body=ReorderBody,
    body_required=False,
)
def reorder_integration_action(integration_id: str, action_id: str, body: ReorderBody) -> None:
    integration = _integration(integration_id)
    session = get_session()
    action = integrations.require_action(session, integration, action_id)
    successor = body.root.successor_id or None
    integrations.reorder_action(session, integration, action, successor)
    session.commit()


# ---------------------------------------------------------------------------------------------
# Events


def own_key_required(view: F) -> F:
    """Authenticate an event: only the integration's own key, rate-limited like every key.

    A key of another workspace sees 404 (the integration is not in its workspace), a workspace
    key or another integration's key 403, and the key of a disabled integration 403.
    """

    @wraps(view)
    def wrapper(integration_id: str, **kwargs: Any) -> Any:
        caller = authenticate(recent=True)
        take_rate_limit(caller)
        integration = caller.integration
        if (
            not isinstance(integration, models.Integration)
            or integration.public_id != integration_id
        ):
            # 404 when the integration is not in the caller's workspace, else 403
            integrations.require_integration(get_session(), caller.workspace.id, integration_id)
            raise Forbidden(
                "Events must be sent with this integration's own API key.", code="access_denied"
            )
        if not integration.enabled:
            raise Forbidden("The integration is disabled.", code="integration_disabled")
        g.principal = caller
        g.workspace = caller.workspace
        g.integration = integration
        return view(integration_id=integration_id, **kwargs)

    mark_auth(wrapper, API_KEY_AUTH)
    return cast(F, wrapper)


@bp.post("/<integration_id>/events")
@own_key_required
@endpoint(
    "Send any payload to the integration's incoming actions",
    tag=TAG,
    body=EventPayload,
    form=True,
    responses={202: EventAccepted},
    description=(
        "Needs the integration's own key. Any JSON value is accepted; "
        "form-encoded bodies are read as fields (e-mail)."
    ),
    operation_id="sendIntegrationEvent",
)
def receive_event(integration_id: str, body: EventPayload) -> EventAccepted:
    """Run the integration's incoming actions on one payload."""
    integration: models.Integration = g.integration
    session = get_session()
    context = ingestion.build_context(
        body.root,
        integration_type=integration.type,
        headers=dict(request.headers),
        query=request.args.to_dict(),
    )
    # The tenant's filters and templates run on actions read apart, before the write begins: on
    # SQLite no one else's write waits for them.
    reading = separate_session(reading=True)
    try:
        decision = ingestion.decide_for(reading, integration, context)
    finally:
        reading.close()
    result = ingestion.ingest(
        session,
        g.principal,
        integration,
        context,
        source_ip=request.remote_addr or "",
        decision=decision,
    )
    session.commit()  # the request is durable before the caller hears 202
    took = round(time.perf_counter() - g.get("started", time.perf_counter()), 3)
    return EventAccepted(
        result="Request will be processed", request_id=result.request.public_id, took=took
    )
