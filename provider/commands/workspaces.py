"""``provider workspaces``: create workspaces, rotate their API keys, list them."""

from __future__ import annotations

import json
from datetime import timedelta

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.commands.core import _settings
from provider.commands.core import session_factory
from provider.errors import NotFound
from provider.ops.workspaces.linking import revoke_links_made_with_codes
from provider.ops.workspaces.models import Workspace
from provider.ops.workspaces.service import audit_events
from provider.ops.workspaces.service import create_workspace
from provider.ops.workspaces.service import issue_link_code
from provider.ops.workspaces.service import links_made_with_codes
from provider.ops.workspaces.service import require_workspace
from provider.ops.workspaces.service import rotate_api_key
from provider.times import iso

CLI = "cli"


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
@click.option(
    "--revoke-links",
    is_flag=True,
    help="also unlink every Jira site a link code linked (they lose the workspace's data)",
)
def rotate_key(ref: str, revoke_links: bool) -> None:
    """Replace the workspace's API key; the old key and unused link codes stop working at once."""
    factory = session_factory(_settings())
    with factory.begin() as session:
        workspace = _workspace(session, ref)
        api_key = rotate_api_key(session, workspace, actor=CLI)
        out: dict[str, object] = {"id": workspace.public_id, "apiKey": api_key}
        linked_with_codes = links_made_with_codes(session, workspace.id)
        if revoke_links:
            out["unlinkedSites"] = revoke_links_made_with_codes(session, workspace, actor=CLI)
    click.echo(json.dumps(out))
    if linked_with_codes and not revoke_links:
        click.echo(
            f"{len(linked_with_codes)} Jira site(s) were linked with link codes and stay linked; "
            "run again with --revoke-links to unlink them if a code may have leaked.",
            err=True,
        )


@workspaces_group.command("link-code")
@click.option("--workspace", "ref", required=True, help="workspace id")
@click.option(
    "--hours",
    type=click.IntRange(1, 24 * 30),
    default=24,
    show_default=True,
    help="how long the code stays usable",
)
def link_code(ref: str, hours: int) -> None:
    """Issue a one-time link code (shown once); earlier unused codes stop working."""
    factory = session_factory(_settings())
    with factory.begin() as session:
        workspace = _workspace(session, ref)
        code = issue_link_code(session, workspace, actor=CLI, lifetime=timedelta(hours=hours))
        out = {"id": workspace.public_id, "linkCode": code, "expiresInHours": hours}
    click.echo(json.dumps(out))


@workspaces_group.command("audit")
@click.option("--workspace", "ref", required=True, help="workspace id")
def audit(ref: str) -> None:
    """Print the workspace's audit log, newest first, one JSON object per event."""
    factory = session_factory(_settings())
    with factory() as session:
        workspace = _workspace(session, ref)
        for event in audit_events(session, workspace.id):
            click.echo(
                json.dumps(
                    {
                        "at": iso(event.at),
                        "action": event.action,
                        "actor": event.actor,
                        "site": event.client_key,
                        "detail": event.detail,
                    }
                )
            )


def _workspace(session: Session, ref: str) -> Workspace:
    try:
        return require_workspace(session, ref)
    except NotFound as e:
        raise click.ClickException(e.message) from None


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
