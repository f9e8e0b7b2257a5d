"""``provider workspaces``: create workspaces, rotate their API keys, list them."""

from __future__ import annotations

import json

import click
from sqlalchemy import select

from provider.commands.core import _settings
from provider.commands.core import session_factory
from provider.errors import NotFound
from provider.ops.workspaces.models import Workspace
from provider.ops.workspaces.service import create_workspace
from provider.ops.workspaces.service import require_workspace
from provider.ops.workspaces.service import rotate_api_key
from provider.times import iso


@click.group("workspaces")
def workspaces_group() -> None:
    """Workspaces own components, alerts and integrations; each has one API key."""


@workspaces_group.command("create")
@click.option("--name", required=True, help="shown in Jira as the provider's workspace")
def create(name: str) -> None:
    """Create a workspace; prints its API key and link code once (only hashes are stored)."""
    name = name.strip()
    if not name or len(name) > 255:
        raise click.BadParameter("must be 1 to 255 characters", param_hint="--name")
    factory = session_factory(_settings())
    with factory.begin() as session:
        workspace, api_key, link_code = create_workspace(session, name)
        out = {"id": workspace.public_id, "name": workspace.name}
    click.echo(json.dumps({**out, "apiKey": api_key, "linkCode": link_code}))


@workspaces_group.command("rotate-key")
@click.option("--workspace", "ref", required=True, help="workspace id")
def rotate_key(ref: str) -> None:
    """Replace the workspace's API key; the old key stops working at once."""
    factory = session_factory(_settings())
    with factory.begin() as session:
        try:
            workspace = require_workspace(session, ref)
        except NotFound as e:
            raise click.ClickException(e.message) from None
        api_key = rotate_api_key(session, workspace)
        out = {"id": workspace.public_id, "apiKey": api_key}
    click.echo(json.dumps(out))


@workspaces_group.command("list")
def list_workspaces() -> None:
    """Print one JSON object per workspace (never a key)."""
    factory = session_factory(_settings())
    with factory() as session:
        for ws in session.scalars(select(Workspace).order_by(Workspace.id)):
            click.echo(
                json.dumps({"id": ws.public_id, "name": ws.name, "createdAt": iso(ws.created_at)})
            )


COMMANDS = [workspaces_group]
