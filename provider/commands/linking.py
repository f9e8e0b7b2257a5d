"""``provider workspaces link|unlink``: link a workspace to a Jira site, with proof of ownership."""

from __future__ import annotations

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.commands.core import _settings
from provider.commands.core import session_factory
from provider.connect.models import Installation
from provider.errors import AppError
from provider.ops.workspaces import linking


def _installation(session: Session, client_key: str) -> Installation:
    inst = session.scalars(
        select(Installation).where(Installation.client_key == client_key)
    ).first()
    if inst is None:
        raise click.ClickException(f"no installation with client key {client_key!r}")
    return inst


@click.command("link")
@click.option("--client-key", required=True, help="the Jira site's client key")
@click.option("--link-code", default=None, help="the workspace's link code")
@click.option(
    "--workspace-key",
    "api_key",
    default=None,
    help="the workspace key, as an alternative proof (read from WORKSPACE_KEY if set)",
    envvar="WORKSPACE_KEY",
)
def link(client_key: str, link_code: str | None, api_key: str | None) -> None:
    """Link the workspace proven by a link code (or workspace key) to a Jira site."""
    factory = session_factory(_settings())
    with factory() as session:
        inst = _installation(session, client_key)
        try:
            workspace = linking.link_workspace(session, inst, link_code=link_code, api_key=api_key)
        except AppError as e:
            raise click.ClickException(e.message) from None
        session.commit()
        click.echo(f"linked workspace {workspace.public_id} ({workspace.name}) to {client_key}")


@click.command("unlink")
@click.option("--client-key", required=True, help="the Jira site's client key")
@click.option("--workspace", "workspace_id", required=True, help="the workspace id")
def unlink(client_key: str, workspace_id: str) -> None:
    """Unlink a workspace from a Jira site and delete its data there."""
    factory = session_factory(_settings())
    with factory() as session:
        inst = _installation(session, client_key)
        try:
            workspace = linking.unlink_workspace(session, inst, workspace_id)
        except AppError as e:
            raise click.ClickException(e.message) from None
        session.commit()
        click.echo(f"unlinked workspace {workspace.public_id} from {client_key}")


# Subcommands of ``provider workspaces`` (the group lives in provider/commands/workspaces.py).
WORKSPACE_COMMANDS = [link, unlink]
