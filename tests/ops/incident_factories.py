"""Plain factory functions for the incidents, reviews and linking tests: add, flush, return."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.connect.models import Installation
from provider.crypto import SecretBox
from provider.ops.components.models import Component
from provider.ops.workspaces.models import Workspace
from provider.ops.workspaces.service import create_workspace
from provider.outbox.models import OutboxMessage
from tests.conftest import TEST_SECRET_KEY


@dataclass
class MadeWorkspace:
    workspace: Workspace
    api_key: str
    link_code: str


def make_installation(session: Session, **overrides: object) -> Installation:
    key = f"client-{uuid.uuid4().hex[:10]}"
    values: dict[str, object] = {
        "client_key": key,
        "base_url": f"https://{key}.atlassian.net",
        "shared_secret_encrypted": SecretBox(TEST_SECRET_KEY).encrypt("s" * 40),
        "cloud_id": str(uuid.uuid4()),
    }
    values.update(overrides)
    inst = Installation(**values)
    session.add(inst)
    session.flush()
    return inst


def make_workspace(session: Session, name: str = "Payments team") -> MadeWorkspace:
    ws, api_key, link_code = create_workspace(session, name)
    return MadeWorkspace(ws, api_key, link_code)


def make_component(
    session: Session, workspace: Workspace, name: str = "checkout", **overrides: object
) -> Component:
    values: dict[str, object] = {
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


def outbox(session: Session, installation: Installation | None = None) -> list[OutboxMessage]:
    stmt = select(OutboxMessage).order_by(OutboxMessage.id)
    if installation is not None:
        stmt = stmt.where(OutboxMessage.installation_id == installation.id)
    return list(session.scalars(stmt))
