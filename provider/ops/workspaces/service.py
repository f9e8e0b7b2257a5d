"""Workspaces: creation (with a fallback component), API keys and their rotation.

The context's interface; other contexts use the types re-exported here.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.crypto import hash_key
from provider.crypto import new_key
from provider.errors import NotFound
from provider.ops.access.principal import ApiPrincipal
from provider.ops.components import service as components
from provider.ops.workspaces.models import Workspace as Workspace
from provider.ops.workspaces.models import WorkspaceLink as WorkspaceLink
from provider.times import utcnow

API_KEY_PREFIX = "wsk"
LINK_CODE_PREFIX = "wlc"


def create_workspace(session: Session, name: str) -> tuple[Workspace, str, str]:
    """Create a workspace; returns it with its API key and link code (shown once, stored hashed)."""
    api_key = new_key(API_KEY_PREFIX)
    link_code = new_key(LINK_CODE_PREFIX)
    workspace = Workspace(
        name=name, api_key_hash=hash_key(api_key), link_code_hash=hash_key(link_code)
    )
    session.add(workspace)
    session.flush()
    components.fallback_component(session, workspace.id)
    return workspace, api_key, link_code


def require_workspace(session: Session, ref: str) -> Workspace:
    """Find a workspace by its public id (or, for the CLI, its number).

    :raises NotFound:
    """
    workspace = session.scalars(select(Workspace).where(Workspace.public_id == ref)).first()
    if workspace is None and ref.isascii() and ref.isdigit():
        workspace = session.get(Workspace, int(ref))
    if workspace is None:
        raise NotFound(f"No workspace {ref!r}.")
    return workspace


def rotate_api_key(session: Session, workspace: Workspace) -> str:
    """Replace the workspace's key; the old one stops working when the transaction commits."""
    api_key = new_key(API_KEY_PREFIX)
    workspace.api_key_hash = hash_key(api_key)
    workspace.key_rotated_at = utcnow()
    session.flush()
    return api_key


def authenticate_api_key(session: Session, api_key: str) -> Workspace | None:
    """The workspace this key belongs to, if any.

    Lookup is by the key's SHA-256, so the comparison never touches the key's bytes one by one.
    """
    if not api_key.startswith(f"{API_KEY_PREFIX}_") or len(api_key) > 200:
        return None
    return session.scalars(
        select(Workspace).where(Workspace.api_key_hash == hash_key(api_key))
    ).first()


def resolve_workspace_key(session: Session, api_key: str) -> ApiPrincipal | None:
    workspace = authenticate_api_key(session, api_key)
    if workspace is None:
        return None
    return ApiPrincipal(workspace=workspace, key_id=f"workspace:{workspace.id}")
