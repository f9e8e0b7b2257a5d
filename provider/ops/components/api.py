"""``/v1/components``: a workspace's services, published to Jira as DevOps components."""

from __future__ import annotations

from flask import Blueprint
from flask import g

from provider.db import get_session
from provider.ops.access.principal import CONFIGURE
from provider.ops.components import service
from provider.ops.components.schemas import Component
from provider.ops.components.schemas import ComponentCreate
from provider.ops.components.schemas import ComponentQuery
from provider.ops.components.schemas import ComponentUpdate
from provider.ops.routes import Owned
from provider.ops.routes import Routes
from provider.schema.pages import Page
from provider.schema.pages import page_of

bp = Blueprint("ops_components", __name__, url_prefix="/v1/components")

route = Routes(bp, "Components", writes=CONFIGURE)
COMPONENT = Owned("component", service.require_component, Component)


@route.get("", "List components", Page[Component], query=ComponentQuery)
def list_components(query: ComponentQuery) -> Page[Component]:
    rows, total = service.list_components(
        get_session(), g.workspace.id, name=query.name[:255], offset=query.offset, size=query.size
    )
    return Page[Component](**page_of([Component.of(c) for c in rows], total, query))


create_component = route.owned(
    "POST",
    "",
    "Create a component",
    COMPONENT,
    service.create_component,
    body=ComponentCreate,
    errors=[409],
)
get_component = route.owned("GET", "/<component_id>", "Get a component", COMPONENT)
update_component = route.owned(
    "PATCH",
    "/<component_id>",
    "Update a component",
    COMPONENT,
    service.update_component,
    body=ComponentUpdate,
    errors=[409],
)
delete_component = route.owned(
    "DELETE",
    "/<component_id>",
    "Delete a component (not the fallback one: 409)",
    COMPONENT,
    service.delete_component,
    errors=[409],
)
