"""``/v1/components``: a workspace's services, published to Jira as DevOps components."""

from __future__ import annotations

from flask import Blueprint
from flask import g

from provider.db import get_session
from provider.ops.access.principal import CONFIGURE
from provider.ops.access.principal import READ
from provider.ops.components import service
from provider.ops.components.schemas import Component
from provider.ops.components.schemas import ComponentCreate
from provider.ops.components.schemas import ComponentQuery
from provider.ops.components.schemas import ComponentUpdate
from provider.ops.routes import Routes
from provider.schema.pages import Page
from provider.schema.pages import page_of

bp = Blueprint("ops_components", __name__, url_prefix="/v1/components")

route = Routes(bp, "Components")


@route("GET", "", READ, "List components", query=ComponentQuery, responses={200: Page[Component]})
def list_components(query: ComponentQuery) -> Page[Component]:
    rows, total = service.list_components(
        get_session(), g.workspace.id, name=query.name[:255], offset=query.offset, size=query.size
    )
    return Page[Component](**page_of([Component.of(c) for c in rows], total, query))


@route(
    "POST",
    "",
    CONFIGURE,
    "Create a component",
    body=ComponentCreate,
    responses={201: Component},
    errors=[409],
)
def create_component(body: ComponentCreate) -> Component:
    session = get_session()
    component = service.create_component(session, g.workspace.id, body)
    session.commit()
    return Component.of(component)


@route("GET", "/<component_id>", READ, "Get a component", responses={200: Component})
def get_component(component_id: str) -> Component:
    return Component.of(service.require_component(get_session(), g.workspace.id, component_id))


@route(
    "PATCH",
    "/<component_id>",
    CONFIGURE,
    "Update a component",
    body=ComponentUpdate,
    responses={200: Component},
    errors=[409],
)
def update_component(component_id: str, body: ComponentUpdate) -> Component:
    session = get_session()
    component = service.require_component(session, g.workspace.id, component_id)
    service.update_component(session, component, body)
    session.commit()
    return Component.of(component)


@route(
    "DELETE",
    "/<component_id>",
    CONFIGURE,
    "Delete a component (not the fallback one: 409)",
    responses={204: "Deleted"},
    errors=[409],
)
def delete_component(component_id: str) -> None:
    session = get_session()
    service.delete_component(
        session, service.require_component(session, g.workspace.id, component_id)
    )
    session.commit()
