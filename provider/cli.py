"""The ``provider`` command: a composition root like ``app.py``.

Each area's commands live in ``provider/commands/<area>.py`` and are registered here.
"""

from __future__ import annotations

import sys

import click

from provider.commands import core
from provider.commands import delivery
from provider.commands import demo
from provider.commands import forge
from provider.commands import jira_sim
from provider.commands import linking
from provider.commands import workspaces
from provider.config import SettingsError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="provider")
def cli() -> None:
    """Operations & DevOps-components provider for Jira Cloud."""


for command in [
    *core.COMMANDS,
    *jira_sim.COMMANDS,
    *delivery.COMMANDS,
    *workspaces.COMMANDS,
    *forge.COMMANDS,
    *demo.COMMANDS,
]:
    cli.add_command(command)
for command in linking.WORKSPACE_COMMANDS:
    workspaces.workspaces_group.add_command(command)
for command in forge.INSTALLATION_COMMANDS:
    core.installations_group.add_command(command)


def main() -> None:
    try:
        cli.main(standalone_mode=True)
    except SettingsError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
