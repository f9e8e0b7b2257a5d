"""``provider demo``: the whole flow on a laptop with one command.

Starts the local Jira simulator, the web app and a worker (three subprocesses), installs the app
into the simulator's site, creates a demo workspace with components and an integration, links it,
sends alerts that become incidents, waits until the simulator holds them, and prints what to
open. Ctrl-C stops everything. The demo has its own SQLite file, started afresh on every run, so
it never touches the database of ``provider run``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select

from provider import migrate
from provider.config import Settings
from provider.config import SettingsError

SITE = "acme"
COMPONENTS = [
    ("checkout-api", "Takes orders and payments from the web shop.", "Tier 1"),
    ("payments", "Talks to the card processors.", "Tier 1"),
    ("search", "Product search and suggestions.", "Tier 2"),
]
ALERTS = [
    {
        "message": "checkout-api: error rate above 5% for 5 minutes",
        "alias": "checkout-error-rate",
        "priority": "P1",
        "tags": ["component:checkout-api", "env:prod"],
        "description": "HTTP 5xx ratio crossed the SLO burn threshold.",
    },
    {
        "message": "payments: card authorisations timing out",
        "alias": "payments-timeouts",
        "priority": "P2",
        "tags": ["component:payments", "env:prod"],
    },
    {
        "message": "search: p99 latency above 2 s",
        "alias": "search-latency",
        "priority": "P3",
        "tags": ["component:search"],
    },
]


@dataclass
class Ports:
    app: int
    sim: int


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _http(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    """A JSON call to one of the demo's own loopback servers."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - loopback URLs we built
    request.add_header("Content-Type", "application/json")
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - same
        raw = response.read()
    return json.loads(raw) if raw else None


def _wait_for(url: str, what: str, procs: dict[str, subprocess.Popen[Any]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, proc in procs.items():
            if proc.poll() is not None:
                raise click.ClickException(f"{name} exited with {proc.returncode} while starting")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise click.ClickException(f"{what} did not answer at {url} within {timeout:.0f} s")


def _step(text: str) -> None:
    click.echo(click.style("• ", fg="blue") + text)


def _create_demo_data(settings: Settings, client_key: str) -> dict[str, str]:
    """Workspace, components, integration and link, in one transaction; returns the secrets."""
    from provider.commands.core import session_factory
    from provider.connect.models import Installation
    from provider.ops.components import service as components
    from provider.ops.components.schemas import ComponentCreate
    from provider.ops.integrations import service as integrations
    from provider.ops.integrations.schemas import IntegrationCreate
    from provider.ops.workspaces import linking
    from provider.ops.workspaces import service as workspaces

    factory = session_factory(settings)
    try:
        with factory.begin() as session:
            installation = session.scalars(
                select(Installation).where(Installation.client_key == client_key)
            ).one()
            workspace, api_key, link_code = workspaces.create_workspace(session, "Demo Shop")
            for name, description, tier in COMPONENTS:
                data = ComponentCreate.model_validate(
                    {"name": name, "description": description, "tier": tier}
                )
                components.create_component(session, workspace.id, data)
            integration, integration_key = integrations.create_integration(
                session,
                workspace.id,
                IntegrationCreate(name="Prometheus", type="API"),
            )
            linking.link_workspace(session, installation, link_code=link_code)
            return {
                "workspace": workspace.public_id,
                "apiKey": api_key,
                "linkCode": link_code,
                "integration": integration.public_id,
                "integrationKey": integration_key,
            }
    finally:
        factory.kw["bind"].dispose()


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _stop(procs: dict[str, subprocess.Popen[Any]]) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for proc in procs.values():
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@click.command("demo")
@click.option("--port", type=int, default=8000, show_default=True, help="the app's port")
@click.option("--sim-port", type=int, default=8001, show_default=True, help="the simulator's port")
@click.option("--free-ports", is_flag=True, help="pick free loopback ports instead")
@click.option(
    "--instance",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("instance"),
    show_default=True,
    help="where demo.sqlite3 and the local secret key live",
)
@click.option("--exit-after-setup", is_flag=True, help="stop once incidents reached the simulator")
@click.option("--timeout", type=float, default=60.0, show_default=True, help="seconds to wait")
def demo(
    port: int,
    sim_port: int,
    free_ports: bool,
    instance: Path,
    exit_after_setup: bool,
    timeout: float,
) -> None:
    """App + worker + local Jira simulator, installed and fed with demo data (Ctrl-C stops)."""
    ports = Ports(_free_port(), _free_port()) if free_ports else Ports(port, sim_port)
    instance = instance.resolve()
    instance.mkdir(parents=True, exist_ok=True)
    db_path = instance / "demo.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{db_path}{suffix}").unlink()
    app_url = f"http://127.0.0.1:{ports.app}"
    sim_url = f"http://127.0.0.1:{ports.sim}"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{db_path}",
        "BASE_URL": app_url,
        "HOST": "127.0.0.1",
        "PORT": str(ports.app),
        "INSTANCE_PATH": str(instance),
        "INSTALL_KEYS_URL": f"{sim_url}/keys",
        "ALLOWED_JIRA_HOSTS": "127.0.0.1",
        "CONNECT_JS_URL": f"{sim_url}/_sim/all.js",
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
        "WEB_CONCURRENCY": "1",
        "PYTHONUNBUFFERED": "1",
    }
    try:
        settings = Settings.from_env(env)
    except SettingsError as e:
        raise click.ClickException(str(e)) from None

    _step(f"database {db_path} (fresh for this demo)")
    migrate.upgrade(settings.database_url)
    python = sys.executable
    procs: dict[str, subprocess.Popen[Any]] = {}
    # A SIGTERM (a supervisor, `timeout`) stops the children the same way Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        _step(f"starting the Jira simulator on {sim_url}")
        procs["simulator"] = subprocess.Popen(  # noqa: S603 - our own interpreter and command
            [python, "-m", "provider.cli", "jira-sim", "--port", str(ports.sim), "--site", SITE],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _step(f"starting the app on {app_url} and a worker")
        procs["web"] = subprocess.Popen(  # noqa: S603
            [python, "-m", "provider.cli", "web", "--workers", "1"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs["worker"] = subprocess.Popen(  # noqa: S603
            [python, "-m", "provider.cli", "worker", "--idle-max", "0.5"], env=env
        )
        _wait_for(f"{sim_url}/_sim/state", "the simulator", procs, 30)
        _wait_for(f"{app_url}/readyz", "the app", procs, 60)

        _step(f"installing the app into the simulator's site {SITE!r}")
        result = _http(
            "POST",
            f"{sim_url}/_sim/sites/{SITE}/install",
            {"descriptorUrl": f"{app_url}/atlassian-connect.json"},
        )
        if not result or not result.get("ok"):
            raise click.ClickException(f"the install failed: {result}")
        client_key = result["site"]["clientKey"]

        _step("creating workspace 'Demo Shop' with 3 components and an integration; linking it")
        secrets = _create_demo_data(settings, client_key)

        _step(f"sending {len(ALERTS)} alerts (P1 and P2 open incidents at once)")
        for alert in ALERTS:
            _http(
                "POST",
                f"{app_url}/v1/alerts",
                alert,
                {"Authorization": f"GenieKey {secrets['apiKey']}"},
            )

        incidents = _wait_for_incidents(sim_url, procs, timeout)
        _summary(app_url, sim_url, secrets, incidents)
        if exit_after_setup:
            return
        click.echo("Press Ctrl-C to stop.")
        while all(proc.poll() is None for proc in procs.values()):
            time.sleep(0.5)
        stopped = [name for name, proc in procs.items() if proc.poll() is not None]
        raise click.ClickException(f"{', '.join(stopped)} stopped unexpectedly")
    except KeyboardInterrupt:
        click.echo("\nstopping…")
    except urllib.error.URLError as e:
        raise click.ClickException(f"a demo step failed: {e}") from None
    finally:
        _stop(procs)


def _wait_for_incidents(
    sim_url: str, procs: dict[str, subprocess.Popen[Any]], timeout: float
) -> list[dict[str, Any]]:
    label = "waiting for the worker to deliver to Jira"
    deadline = time.monotonic() + timeout
    with click.progressbar(length=int(timeout), label=label, show_eta=False) as bar:
        waited = 0
        while time.monotonic() < deadline:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    raise click.ClickException(f"{name} exited with {proc.returncode}")
            state = _http("GET", f"{sim_url}/_sim/state/{SITE}")
            incidents = list((state or {}).get("incidents", {}).values())
            if len(incidents) >= 2 and state.get("components"):
                bar.update(int(timeout) - waited)
                return incidents
            time.sleep(1)
            waited += 1
            bar.update(1)
    raise click.ClickException(
        f"no incidents reached the simulator within {timeout:.0f} s; see the worker's log above"
    )


def _summary(
    app_url: str, sim_url: str, secrets: dict[str, str], incidents: list[dict[str, Any]]
) -> None:
    click.echo()
    click.secho(f"Jira holds {len(incidents)} incidents:", bold=True)
    for incident in incidents:
        click.echo(f"  - {incident.get('summary')}")
    click.echo()
    click.secho("Open:", bold=True)
    click.echo(f"  What Jira holds (incidents, reviews, components): {sim_url}/")
    click.echo(
        f"  The app's admin page, framed as Jira does:        {sim_url}/_sim/sites/{SITE}/admin"
    )
    click.echo(f"  The operations API:                               {app_url}/v1/alerts")
    click.echo()
    click.secho("Try it:", bold=True)
    click.echo(
        f"  curl -X POST {app_url}/v1/alerts -H 'Authorization: GenieKey {secrets['apiKey']}' \\\n"
        "       -H 'Content-Type: application/json' \\\n"
        '       -d \'{"message": "checkout-api is down", "priority": "P1", '
        '"tags": ["component:checkout-api"]}\''
    )
    click.echo(
        f"  integration webhook: {app_url}/v1/integrations/{secrets['integration']}/events "
        f"(GenieKey {secrets['integrationKey']})"
    )
    click.echo()


COMMANDS = [demo]
