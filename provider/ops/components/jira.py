"""The actions Jira calls on the provider: fetchWorkspaces, searchContainers and the component ones.

Every route takes a request-bound JWT (``qsh`` of this request). Every query is scoped to the
calling installation's linked workspaces: an installation never learns that another site's
workspace or component exists, so an id it may not see answers exactly like an unknown one.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from typing import Any

from flask import Blueprint
from flask import request
from sqlalchemy import Select
from sqlalchemy import bindparam
from sqlalchemy import case
from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.connect.auth import current_installation
from provider.connect.auth import jira_jwt_required
from provider.connect.models import Installation
from provider.db import get_session
from provider.db import read_only
from provider.errors import BadRequest
from provider.errors import NotFound
from provider.errors import ValidationFailed
from provider.ops.components import associations
from provider.ops.components.models import Component
from provider.ops.sync.links import Links
from provider.ops.sync.links import links_of
from provider.ops.sync.payloads import component_payload
from provider.ops.workspaces.models import Workspace
from provider.ops.workspaces.models import WorkspaceLink
from provider.times import iso
from provider.validation import Fields

logger = logging.getLogger(__name__)

bp = Blueprint("jira_actions", __name__)

MAX_WORKSPACE_IDS = 1000
MAX_CONTAINERS = 200
MAX_QUERY_LENGTH = 255
MAX_ID_LENGTH = 255


def _json_object() -> Fields:
    return Fields(request.get_json(silent=True))


def _raise_bad_request(f: Fields) -> None:
    # Jira's action contracts answer a malformed body with 400, not the 422 of the ops API.
    try:
        f.raise_if_errors()
    except ValidationFailed as e:
        raise BadRequest(e.message, code="invalid_body", details=e.details) from None


def _visible_components(installation: Installation) -> Select[tuple[Component, Workspace]]:
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

_LINKED_WORKSPACES_BY_ID = (
    select(Workspace)
    .join(WorkspaceLink, WorkspaceLink.workspace_id == Workspace.id)
    .where(
        WorkspaceLink.installation_id == bindparam("installation_id"),
        Workspace.public_id.in_(bindparam("ids", expanding=True)),
    )
    .order_by(Workspace.name, Workspace.id)
)


@functools.cache
def _search_statement(*, in_workspace: bool, matching: bool) -> Select[tuple[Component, Workspace]]:
    query = _VISIBLE_COMPONENTS
    if in_workspace:
        query = query.where(Workspace.public_id == bindparam("workspace_id"))
    if matching:
        rank = case(
            (Component.name_lower == bindparam("needle"), 0),
            (Component.name_lower.like(bindparam("prefix"), escape="\\"), 1),
            else_=2,
        )
        query = query.where(Component.name_lower.like(bindparam("contains"), escape="\\")).order_by(
            rank
        )
    return query.order_by(Component.name_lower, Component.id).limit(MAX_CONTAINERS)


def workspace_json(workspace: Workspace, links: Links) -> dict[str, Any]:
    return {
        "id": workspace.public_id,
        "name": workspace.name,
        "url": f"{links.base_url}/workspaces/{workspace.public_id}",
        "avatarUrl": workspace.avatar_url or links.workspace_avatar,
    }


def container_json(component: Component, workspace: Workspace, links: Links) -> dict[str, Any]:
    payload = component_payload(component, workspace, links)
    return {
        "id": component.public_id,
        "name": component.name,
        "url": payload["url"],
        "avatarUrl": payload["avatarUrl"],
        "lastUpdatedDate": iso(component.updated_at),
    }


@bp.post("/workspaces/list")
@read_only
@jira_jwt_required(qsh="request")
def fetch_workspaces() -> dict[str, Any]:
    f = _json_object()
    ids = f.str_list("ids", max_items=MAX_WORKSPACE_IDS, max_len=MAX_ID_LENGTH)
    if ids is None and "ids" not in f.errors:
        f.error("ids", "is required")
    _raise_bad_request(f)
    wanted = list(dict.fromkeys(ids or []))
    if not wanted:
        return {"workspaces": []}
    rows = get_session().scalars(
        _LINKED_WORKSPACES_BY_ID, {"installation_id": current_installation().id, "ids": wanted}
    )
    links = links_of(get_session())
    return {"workspaces": [workspace_json(w, links) for w in rows]}


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_containers_query(
    installation: Installation, search: str, workspace_id: str | None
) -> tuple[Select[tuple[Component, Workspace]], dict[str, Any]]:
    """Components visible to ``installation`` whose name contains ``search``, best first.

    Returns the statement and its parameters, to be passed together to ``execute``.
    """
    needle = search.strip().lower()
    params: dict[str, Any] = {"installation_id": installation.id}
    if workspace_id is not None:
        params["workspace_id"] = workspace_id
    if needle:
        escaped = _escape_like(needle)
        params.update(needle=needle, prefix=f"{escaped}%", contains=f"%{escaped}%")
    statement = _search_statement(in_workspace=workspace_id is not None, matching=bool(needle))
    return statement, params


def _single_arg(name: str, *, max_len: int) -> str | None:
    values = request.args.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        raise BadRequest(f"{name} must be given once.", code="invalid_query")
    if len(values[0]) > max_len:
        raise BadRequest(f"{name} must be at most {max_len} characters.", code="invalid_query")
    return values[0]


@bp.get("/containers/search")
@read_only
@jira_jwt_required(qsh="request")
def search_containers() -> dict[str, Any]:
    search = _single_arg("searchQuery", max_len=MAX_QUERY_LENGTH) or ""
    workspace_id = _single_arg("workspaceId", max_len=MAX_ID_LENGTH) or None
    rows = get_session().execute(
        *search_containers_query(current_installation(), search, workspace_id)
    )
    links = links_of(get_session())
    return {"containers": [container_json(c, w, links) for c, w in rows]}


def _entity_reference(f: Fields) -> tuple[str | None, str | None]:
    """Read ``entity`` ({id} or {url}) from an action body."""
    entity = f.raw.get("entity")
    if not isinstance(entity, Mapping):
        f.error("entity", "must be an object with an id or a url")
        return None, None
    sub = Fields(entity, what="entity")
    entity_id = sub.optional_str("id", max_len=MAX_ID_LENGTH)
    url = sub.optional_str("url", max_len=2000)
    sub.optional_str("ari", max_len=2000)
    for name, message in sub.errors.items():
        f.error(f"entity.{name}", message)
    if not entity_id and not url and not sub.errors:
        f.error("entity", "must have an id or a url")
    return entity_id, url


def _association_target(f: Fields, *names: str, required: bool) -> dict[str, str] | None:
    """Read the Jira entity a component is (dis)associated with, under either spelling."""
    present = [name for name in names if f.raw.get(name) is not None]
    if not present:
        if required:
            f.error(names[0], "is required")
        return None
    name = present[0]
    target = f.raw[name]
    if not isinstance(target, Mapping):
        f.error(name, "must be an object")
        return None
    sub = Fields(target, what=name)
    values = {key: sub.optional_str(key, max_len=2000) for key in ("ati", "ari", "cloudId", "id")}
    for key, message in sub.errors.items():
        f.error(f"{name}.{key}", message)
    if not values["ari"] and not values["id"] and not sub.errors:
        f.error(name, "must have an ari or an id")
    return {k: v for k, v in values.items() if v}


def _user_id(f: Fields) -> str | None:
    user = f.raw.get("user")
    if user is None:
        return request.args.get("userId") or None
    if not isinstance(user, Mapping):
        f.error("user", "must be an object")
        return None
    sub = Fields(user, what="user")
    user_id = sub.optional_str("id", max_len=255)
    for key, message in sub.errors.items():
        f.error(f"user.{key}", message)
    return user_id


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
    return row[0], row[1]


def _component_action(*target_names: str) -> dict[str, Any]:
    f = _json_object()
    entity_id, url = _entity_reference(f)
    _association_target(f, *target_names, required=False)
    _user_id(f)
    _raise_bad_request(f)
    session = get_session()
    component, workspace = find_component(
        session, current_installation(), entity_id=entity_id, url=url
    )
    return dict(component_payload(component, workspace, links_of(session)))


@bp.post("/components/associate")
@bp.post("/components/associate-entity")
@jira_jwt_required(qsh="request")
def associate() -> dict[str, Any]:
    return _component_action("associateWith", "associatedWith")


@bp.post("/components/disassociate")
@bp.post("/components/disassociate-entity")
@jira_jwt_required(qsh="request")
def disassociate() -> dict[str, Any]:
    return _component_action("disassociateFrom", "disassociatedFrom")


def _association_notice(*target_names: str, associating: bool) -> tuple[str, int]:
    f = _json_object()
    entity_id, url = _entity_reference(f)
    target = _association_target(f, *target_names, required=True)
    user_id = _user_id(f)
    _raise_bad_request(f)
    session = get_session()
    installation = current_installation()
    component, _ = find_component(session, installation, entity_id=entity_id, url=url)
    entity = associations.jira_entity(target or {})
    if not entity.id:
        raise BadRequest(f"{target_names[0]} must name a Jira entity.", code="invalid_body")
    if associating:
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
@jira_jwt_required(qsh="request")
def on_entity_associated() -> tuple[str, int]:
    return _association_notice("associatedWith", "associateWith", associating=True)


@bp.route("/components/on-entity-disassociated", methods=["PUT", "POST"])
@jira_jwt_required(qsh="request")
def on_entity_disassociated() -> tuple[str, int]:
    return _association_notice("disassociatedFrom", "disassociateFrom", associating=False)
