"""The actions Jira calls on the provider about components: searchContainers and the rest.

Every route takes a request-bound JWT (``qsh`` of this request). Every query is scoped to the
calling installation's linked workspaces: an installation never learns that another site's
workspace or component exists, so an id it may not see answers exactly like an unknown one.
"""

from __future__ import annotations

import logging
from typing import Any
from typing import TypeVar

from flask import Blueprint
from flask import Response
from flask import request
from sqlalchemy import Select
from sqlalchemy import bindparam
from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.connect.auth import current_installation
from provider.connect.auth import jira_jwt_required
from provider.connect.models import Installation
from provider.db import get_session
from provider.db import read_connection
from provider.db import read_only
from provider.errors import BadRequest
from provider.errors import NotFound
from provider.ops.components import associations
from provider.ops.components.models import Component
from provider.ops.components.schemas import AssociateAction
from provider.ops.components.schemas import ContainerCard
from provider.ops.components.schemas import Containers
from provider.ops.components.schemas import DisassociateAction
from provider.ops.components.schemas import EntityAssociated
from provider.ops.components.schemas import EntityDisassociated
from provider.ops.components.search import Card
from provider.ops.components.search import find_containers
from provider.ops.sync.links import Links
from provider.ops.sync.links import links_of
from provider.ops.sync.payloads import component_payload
from provider.ops.workspaces.service import Workspace
from provider.ops.workspaces.service import WorkspaceLink
from provider.schema.endpoint import render
from provider.schema.fields import RequestModel
from provider.schema.parsing import NUL_MESSAGE
from provider.schema.parsing import decode_json
from provider.schema.parsing import parse_malformed_as_400

logger = logging.getLogger(__name__)

A = TypeVar("A", bound=RequestModel)

bp = Blueprint("jira_actions", __name__)

MAX_QUERY_LENGTH = 255
MAX_ID_LENGTH = 255


def _visible_components(installation: Installation) -> Select[Component, Workspace]:
    return _VISIBLE_COMPONENTS.params(installation_id=installation.id)


# Jira's calls are the hottest requests the app serves. Their statements are built once with bound
# parameters: SQLAlchemy then reuses the memoised cache key and compiled SQL instead of rebuilding
# and hashing a new expression tree on every request.
_VISIBLE_COMPONENTS = (
    select(Component, Workspace)
    .join(Workspace, Workspace.id == Component.workspace_id)
    .join(WorkspaceLink, WorkspaceLink.workspace_id == Workspace.id)
    .where(WorkspaceLink.installation_id == bindparam("installation_id"))
)


def container_card(row: Card, links: Links) -> ContainerCard:
    """A card from a row of ``_CARD_COLUMNS``; the links as ``component_payload`` makes them."""
    public_id, name, url, avatar_url, updated_at = row
    return ContainerCard(
        id=public_id,
        name=name,
        url=url or links.component(public_id),
        avatar_url=avatar_url or links.component_avatar,
        last_updated_date=updated_at,
    )


def _single_arg(name: str, *, max_len: int) -> str | None:
    values = request.args.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        raise BadRequest(f"{name} must be given once.", code="invalid_query")
    if len(values[0]) > max_len:
        raise BadRequest(f"{name} must be at most {max_len} characters.", code="invalid_query")
    # No database stores a NUL in text, and SQLite's full-text index fails on one.
    if "\x00" in values[0]:
        raise BadRequest(NUL_MESSAGE, code="invalid_characters")
    return values[0]


@bp.get("/containers/search")
@read_only
@jira_jwt_required(qsh="request", forge=True)
def search_containers() -> Response:
    search = _single_arg("searchQuery", max_len=MAX_QUERY_LENGTH) or ""
    workspace_id = _single_arg("workspaceId", max_len=MAX_ID_LENGTH) or None
    # Plain rows on a connection of their own: the ORM's work buys nothing here
    rows = find_containers(read_connection(), current_installation().id, search, workspace_id)
    links = links_of(get_session())  # a session that never connects costs next to nothing
    return render(Containers(containers=[container_card(row, links) for row in rows]))


def _body(model: type[A]) -> A:
    raw = decode_json(request.get_data(cache=True))
    if isinstance(raw, dict) and "user" not in raw and request.args.get("userId"):
        raw = {**raw, "user": {"id": request.args["userId"]}}
    return parse_malformed_as_400(model, raw)


def find_component(
    session: Session,
    installation: Installation,
    *,
    entity_id: str | None,
    url: str | None,
) -> tuple[Component, Workspace]:
    """The installation's component named by id, or by the url the provider gave it.

    :raises NotFound: when no component the installation can see matches.
    """
    query = _visible_components(installation)
    if entity_id:
        query = query.where(Component.public_id == entity_id)
    elif url:
        prefix = links_of(session).component("")
        if url.startswith(prefix) and "/" not in url[len(prefix) :]:
            query = query.where(Component.public_id == url[len(prefix) :].split("?", 1)[0])
        else:
            query = query.where(Component.url == url)
    row = session.execute(query.order_by(Component.id).limit(1)).first()
    if row is None:
        raise NotFound("No such component.", code="component_not_found")
    component, workspace = row
    return component, workspace


def _component_action(model: type[AssociateAction | DisassociateAction]) -> dict[str, Any]:
    body = _body(model)
    session = get_session()
    component, workspace = find_component(
        session, current_installation(), entity_id=body.entity.id, url=body.entity.url
    )
    return dict(component_payload(component, workspace, links_of(session)))


@bp.post("/components/associate")
@bp.post("/components/associate-entity")
@jira_jwt_required(qsh="request", forge=True)
def associate() -> dict[str, Any]:
    return _component_action(AssociateAction)


@bp.post("/components/disassociate")
@bp.post("/components/disassociate-entity")
@jira_jwt_required(qsh="request", forge=True)
def disassociate() -> dict[str, Any]:
    return _component_action(DisassociateAction)


def _association_notice(
    model: type[EntityAssociated | EntityDisassociated], *, associating: bool
) -> tuple[str, int]:
    body = _body(model)
    session = get_session()
    installation = current_installation()
    component, _ = find_component(
        session, installation, entity_id=body.entity.id, url=body.entity.url
    )
    entity = associations.jira_entity(body.target.values())
    if not entity.id:
        raise BadRequest("The target must name a Jira entity.", code="invalid_body")
    if associating:
        user_id = body.user.id if body.user else None
        associations.record_association(session, installation, component, entity, user_id=user_id)
    else:
        associations.remove_association(session, installation, component, entity)
    session.commit()
    logger.info(
        "component %s component=%s ati=%s entity=%s",
        "associated" if associating else "disassociated",
        component.public_id,
        entity.ati,
        entity.id,
    )
    return "", 200


@bp.route("/components/on-entity-associated", methods=["PUT", "POST"])
@jira_jwt_required(qsh="request", forge=True)
def on_entity_associated() -> tuple[str, int]:
    return _association_notice(EntityAssociated, associating=True)


@bp.route("/components/on-entity-disassociated", methods=["PUT", "POST"])
@jira_jwt_required(qsh="request", forge=True)
def on_entity_disassociated() -> tuple[str, int]:
    return _association_notice(EntityDisassociated, associating=False)
