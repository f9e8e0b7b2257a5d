"""``/v1/components``: a workspace's services, published to Jira as DevOps components."""

from __future__ import annotations

from flask import Blueprint
from flask import g

from provider.db import get_session
from provider.ops.access.http import api_key_required
from provider.ops.access.principal import CONFIGURE
from provider.ops.access.principal import READ
from provider.ops.components import service
from provider.ops.components.schemas import Component
from provider.ops.components.schemas import ComponentCreate
from provider.ops.components.schemas import ComponentQuery
from provider.ops.components.schemas import ComponentUpdate
from provider.schema.endpoint import endpoint
from provider.schema.pages import Page
from provider.schema.pages import page_of

bp = Blueprint("ops_components", __name__, url_prefix="/v1/components")

TAG = "Components"


@bp.get("")
@api_key_required(READ)
@endpoint("List components", tag=TAG, query=ComponentQuery, responses={200: Page[Component]})
def list_components(query: ComponentQuery) -> Page[Component]:
    rows, total = service.list_components(
        get_session(), g.workspace.id, name=query.name[:255], offset=query.offset, size=query.size
    )
    return Page[Component](**page_of([Component.of(c) for c in rows], total, query))


@bp.post("")
@api_key_required(CONFIGURE)
@endpoint(
    "Create a component",
    tag=TAG,
    body=ComponentCreate,
    responses={201: Component},
    errors=[409],
)
def create_component(body: ComponentCreate) -> Component:
    session = get_session()
    component = service.create_component(session, g.workspace.id, body)
    session.commit()
    return Component.of(component)


@bp.get("/<component_id>")
@api_key_required(READ)
@endpoint("Get a component", tag=TAG, responses={200: Component})
def get_component(component_id: str) -> Component:
    return Component.of(service.require_component(get_session(), g.workspace.id, component_id))


@bp.patch("/<component_id>")
@api_key_required(CONFIGURE)
@endpoint(
    "Update a component", tag=TAG, body=ComponentUpdate, responses={200: Component}, errors=[409]
)
def update_component(component_id: str, body: ComponentUpdate) -> Component:
    session = get_session()
    component = service.require_component(session, g.workspace.id, component_id)
    service.update_component(session, component, body)
    session.commit()
    return Component.of(component)


@bp.delete("/<component_id>")
@api_key_required(CONFIGURE)
@endpoint(
    "Delete a component (not the fallback one: 409)",
    tag=TAG,
    responses={204: "Deleted"},
    errors=[409],
)
def delete_component(component_id: str) -> None:
    session = get_session()
    service.delete_component(
        session, service.require_component(session, g.workspace.id, component_id)
    )
    session.commit()
