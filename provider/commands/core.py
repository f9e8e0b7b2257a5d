"""Commands that run the service: ``run``, ``web``, ``db upgrade``, ``installations list``."""

from __future__ import annotations

import json
import os
import sys

import click
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from provider import migrate
from provider.commands.processes import Supervisor
from provider.commands.processes import ensure_port_free
from provider.config import Settings
from provider.config import SettingsError
from provider.db import make_session_factory
from provider.ops.sync.links import bind_links


def session_factory(settings: Settings) -> sessionmaker[Session]:
    """Sessions for a command, carrying the app's links (payloads sent to Jira need them)."""
    return bind_links(make_session_factory(settings), settings.base_url)


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as e:
        raise click.ClickException(str(e)) from None


@click.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations (the Procfile's release step)."""
    settings = _settings()
    migrate.upgrade(settings.database_url, revision)
    click.echo(f"database at {migrate.head_revision() if revision == 'head' else revision}")


@db_group.command("revision")
@click.option("-m", "--message", required=True)
@click.option("--rev-id", required=True, help="the next number, e.g. 0005")
def db_revision(message: str, rev_id: str) -> None:
    """Autogenerate a migration against a scratch SQLite database at head (then read and edit it)."""
    import tempfile

    from alembic import command

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/scratch.sqlite3"
        migrate.upgrade(url)
        command.revision(
            migrate.alembic_config(url), message=message, autogenerate=True, rev_id=rev_id
        )


@click.group("installations")
def installations_group() -> None:
    """Jira sites that installed the app."""


@installations_group.command("list")
def installations_list() -> None:
    """Print one JSON object per installation (never the shared secret)."""
    from provider.connect.models import Installation

    factory = make_session_factory(_settings())
    with factory() as session:
        for inst in session.scalars(select(Installation).order_by(Installation.id)):
            click.echo(json.dumps(inst.to_json()))


@click.command("web")
@click.option("--workers", type=int, default=None, help="gunicorn worker processes")
def web(workers: int | None) -> None:
    """Serve the web app with gunicorn (production configuration)."""
    _settings()  # fail fast with a readable message before gunicorn starts
    args = [sys.executable, "-m", "gunicorn", "-c", _gunicorn_conf(), "provider.app:create_app()"]
    if workers:
        args += ["--workers", str(workers)]
    os.execv(sys.executable, args)  # noqa: S606 - replaces this process with gunicorn


def _gunicorn_conf() -> str:
    return str(migrate.MIGRATIONS.parent / "gunicorn.conf.py")


def process_specs(settings: Settings) -> list[tuple[str, list[str]]]:
    """The processes ``provider run`` starts side by side."""
    return [
        ("web", [sys.executable, "-m", "provider.cli", "web", "--workers", "2"]),
        ("worker", [sys.executable, "-m", "provider.cli", "worker", "--supervised"]),
    ]


@click.command("run")
def run() -> None:
    """Migrate, then start the web app and the worker side by side (Ctrl-C stops both)."""
    settings = _settings()
    env = dict(os.environ)
    env.setdefault("HOST", "127.0.0.1")
    env.setdefault("PORT", str(settings.port))
    ensure_port_free(
        env["HOST"], settings.port, "set PORT=… to a free port (and BASE_URL to match)"
    )
    with Supervisor(env) as supervisor:
        migrate.upgrade(settings.database_url)
        click.echo(
            f"{settings.app_name} on {settings.base_url} "
            f"(database {settings.database_url.split('://', 1)[0]}); "
            f"descriptor at {settings.base_url}/atlassian-connect.json"
        )
        for name, argv in process_specs(settings):
            supervisor.start(name, argv)
        supervisor.watch()
    sys.exit(supervisor.status)


COMMANDS = [db_group, installations_group, web, run]
