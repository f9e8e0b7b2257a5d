"""Plain factory functions for workspaces, their links and components (add, flush, return)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from provider.connect.models import Installation
from provider.crypto import hash_key
from provider.crypto import new_key
from provider.ops.components.models import Component
from provider.ops.workspaces.models import Workspace
from provider.ops.workspaces.models import WorkspaceLink


def make_workspace(session: Session, name: str = "Payments", **overrides: Any) -> Workspace:
    values: dict[str, Any] = {
        "name": name,
        "api_key_hash": hash_key(new_key("opk")),
    }
    values.update(overrides)
    workspace = Workspace(**values)
    session.add(workspace)
    session.flush()
    return workspace


def link(session: Session, installation: Installation, workspace: Workspace) -> WorkspaceLink:
    row = WorkspaceLink(installation_id=installation.id, workspace_id=workspace.id)
    session.add(row)
    session.flush()
    return row


def make_component(
    session: Session, workspace: Workspace, name: str = "checkout", **overrides: Any
) -> Component:
    values: dict[str, Any] = {
        "workspace_id": workspace.id,
        "name": name,
        "name_lower": name.lower(),
        "description": f"The {name} service",
    }
    values.update(overrides)
    component = Component(**values)
    session.add(component)
    session.flush()
    return component
