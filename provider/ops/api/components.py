"""``/v1/components``: a workspace's services, published to Jira as DevOps components."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import g
from flask import request

from provider.config import Settings
from provider.db import get_session
from provider.ops import components
from provider.ops.api.common import api_key_required
from provider.ops.api.common import json_body
from provider.ops.api.common import paginated
from provider.ops.api.common import parse_page
from provider.ops.auth import CONFIGURE
from provider.ops.auth import READ
from provider.ops.models import Component
from provider.times import iso

bp = Blueprint("ops_components", __name__, url_prefix="/v1/components")

Json = tuple[dict[str, Any], int]


def component_to_json(c: Component) -> dict[str, Any]:
    return {
        "id": c.public_id,
        "name": c.name,
        "description": c.description,
        "url": c.url,
        "avatarUrl": c.avatar_url,
        "tier": c.tier.value,
        "componentType": c.component_type.value,
        "isFallback": c.is_fallback,
        "createdAt": iso(c.created_at),
        "updatedAt": iso(c.updated_at),
    }


def _base_url() -> str:
    settings: Settings = current_app.extensions["provider.settings"]
    return settings.base_url


@bp.get("")
@api_key_required(READ)
def list_components() -> Json:
    page = parse_page()
    name = request.args.get("name", "")[:255]
    rows, total = components.list_components(
        get_session(), g.workspace.id, name=name, offset=page.offset, size=page.size
    )
    return paginated([component_to_json(c) for c in rows], total, page), 200


@bp.post("")
@api_key_required(CONFIGURE)
def create_component() -> Json:
    changes = components.ComponentChanges.from_json(json_body(), creating=True)
    session = get_session()
    component = components.create_component(session, g.workspace.id, changes, base_url=_base_url())
    session.commit()
    return component_to_json(component), 201


@bp.get("/<component_id>")
@api_key_required(READ)
def get_component(component_id: str) -> Json:
    component = components.require_component(get_session(), g.workspace.id, component_id)
    return component_to_json(component), 200


@bp.patch("/<component_id>")
@api_key_required(CONFIGURE)
def update_component(component_id: str) -> Json:
    session = get_session()
    component = components.require_component(session, g.workspace.id, component_id)
    changes = components.ComponentChanges.from_json(json_body(), creating=False)
    components.update_component(session, component, changes, base_url=_base_url())
    session.commit()
    return component_to_json(component), 200


@bp.delete("/<component_id>")
@api_key_required(CONFIGURE)
def delete_component(component_id: str) -> Response:
    session = get_session()
    component = components.require_component(session, g.workspace.id, component_id)
    components.delete_component(session, component)
    session.commit()
    return Response(status=204)
