"""``provider demo``: the whole flow on a laptop with one command.

Starts the local Jira simulator, the web app and a worker (three subprocesses), installs the app
into the simulator's site, creates a demo workspace with components and an integration, links it,
sends alerts that become incidents, waits until the simulator holds them, and prints what to
open. Ctrl-C stops everything. The demo has its own SQLite file, started afresh on every run, so
it never touches the database of ``provider run``.

With ``--forge`` the site installs the app the Forge way: Jira calls the app with Forge
Invocation Tokens, the demo runs ``provider forge-probe`` on the site and, as the simulator is
told to take Forge's system tokens (real Jira documents that it does not yet), switches the site
to them, so every push travels with the Forge token.
"""

from __future__ import annotations

import contextlib
import json
import os
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
from provider.commands.processes import Supervisor
from provider.commands.processes import ensure_port_free
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


def _wait_for(url: str, what: str, supervisor: Supervisor, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        supervisor.check()
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise click.ClickException(f"{what} did not answer at {url} within {timeout:.0f} s")


def _step(text: str) -> None:
    click.echo(click.style("• ", fg="blue") + text)


def _create_demo_data(settings: Settings, client_key: str) -> dict[str, Any]:
    """Workspace, components, integration and link, in one transaction; returns the secrets.

    ``components`` names every component Jira will show, the workspace's fallback included.
    """
    from provider.commands.core import session_factory
    from provider.connect.models import Installation
    from provider.ops.components import service as components
    from provider.ops.components.models import Component
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
            names = [
                f"{c.name} (the fallback for alerts that name no component)"
                if c.is_fallback
                else c.name
                for c in session.scalars(
                    select(Component)
                    .where(Component.workspace_id == workspace.id)
                    .order_by(Component.id)
                )
            ]
            return {
                "components": names,
                "workspace": workspace.public_id,
                "apiKey": api_key,
                "linkCode": link_code,
                "integration": integration.public_id,
                "integrationKey": integration_key,
            }
    finally:
        factory.kw["bind"].dispose()


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
@click.option("--forge", is_flag=True, help="install the Forge way and deliver with Forge's token")
def demo(
    port: int,
    sim_port: int,
    free_ports: bool,
    instance: Path,
    exit_after_setup: bool,
    timeout: float,
    forge: bool,
) -> None:
    """App + worker + local Jira simulator, installed and fed with demo data (Ctrl-C stops)."""
    ports = Ports(_free_port(), _free_port()) if free_ports else Ports(port, sim_port)
    # Before the database is reset: a demo already running on these ports is using it.
    for taken in (ports.app, ports.sim):
        ensure_port_free(
            "127.0.0.1", taken, "choose others with --port and --sim-port, or use --free-ports"
        )
    instance = instance.resolve()
    instance.mkdir(parents=True, exist_ok=True)
    db_path = instance / "demo.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{db_path}{suffix}").unlink()
    from jira_simulator import forge as simulated_forge

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
        "FORGE_APP_ID": simulated_forge.DEFAULT_APP_ID,
        "FORGE_JWKS_URL": f"{sim_url}{simulated_forge.JWKS_PATH}",
        "FORGE_API_HOSTS": "127.0.0.1",
        # Forge's JWKS is the simulator's, on loopback, which the outgoing-URL guard refuses.
        "ALLOW_PRIVATE_OUTBOUND": "true",
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
        "WEB_CONCURRENCY": "1",
        "PYTHONUNBUFFERED": "1",
    }
    try:
        settings = Settings.from_env(env)
    except SettingsError as e:
        raise click.ClickException(str(e)) from None
    with Supervisor(env) as supervisor:
        _step(f"database {db_path} (fresh for this demo)")
        migrate.upgrade(settings.database_url)
        try:
            _run_demo(supervisor, settings, ports, instance, timeout, forge=forge)
        except (OSError, click.ClickException) as e:
            # A stop signal or a process that exited explains a failed step better than the step.
            supervisor.check()
            if isinstance(e, click.ClickException):
                raise
            raise click.ClickException(f"a demo step failed: {e}") from None
        if not exit_after_setup:
            click.echo("Press Ctrl-C to stop.")
            supervisor.watch()
    sys.exit(supervisor.status)


def _run_demo(
    supervisor: Supervisor,
    settings: Settings,
    ports: Ports,
    instance: Path,
    timeout: float,
    *,
    forge: bool,
) -> None:
    """Start the three processes, install the app, create the data, send alerts, show them."""
    app_url = settings.base_url
    sim_url = f"http://127.0.0.1:{ports.sim}"
    python = sys.executable
    _step(f"starting the Jira simulator on {sim_url}")
    sim_args = ["--port", str(ports.sim), "--site", SITE]
    if settings.forge_app_id:
        sim_args += ["--forge-app-id", settings.forge_app_id]
    if forge:
        sim_args.append("--accept-forge-tokens")
    supervisor.start(
        "simulator",
        [python, "-m", "provider.cli", "jira-sim", *sim_args],
        log=instance / "simulator.log",
    )
    _step(f"starting the app on {app_url} and a worker")
    supervisor.start(
        "web", [python, "-m", "provider.cli", "web", "--workers", "1"], log=instance / "web.log"
    )
    supervisor.start(
        "worker", [python, "-m", "provider.cli", "worker", "--idle-max", "0.5", "--supervised"]
    )
    _wait_for(f"{sim_url}/_sim/state", "the simulator", supervisor, 30)
    _wait_for(f"{app_url}/readyz", "the app", supervisor, 60)

    way = "the Forge way" if forge else "as a Connect app"
    _step(f"installing the app into the simulator's site {SITE!r} {way}")
    result = _http(
        "POST",
        f"{sim_url}/_sim/sites/{SITE}/install",
        {"descriptorUrl": f"{app_url}/atlassian-connect.json", "forge": forge},
    )
    if not result or not result.get("ok"):
        raise click.ClickException(f"the install failed: {result}")
    client_key = result["site"]["clientKey"]
    if forge:
        _switch_to_forge(python, supervisor.env, client_key)

    _step("creating workspace 'Demo Shop' with components and an integration; linking it")
    secrets = _create_demo_data(settings, client_key)
    names = secrets["components"]
    click.echo(f"    {len(names)} components: " + ", ".join(names))

    _step(f"sending {len(ALERTS)} alerts (P1 and P2 open incidents at once)")
    for alert in ALERTS:
        _http(
            "POST",
            f"{app_url}/v1/alerts",
            alert,
            {"Authorization": f"GenieKey {secrets['apiKey']}"},
        )

    incidents = _wait_for_incidents(sim_url, supervisor, timeout)
    _summary(app_url, sim_url, secrets, incidents)


def _switch_to_forge(python: str, env: dict[str, str] | None, client_key: str) -> None:
    """Probe the site with the Forge token the install brought, and switch to it if it passed."""
    _step("provider forge-probe: does the site take the app's Forge token?")
    probed = subprocess.run(  # noqa: S603 - our own interpreter and command
        [python, "-m", "provider.cli", "forge-probe", "--site", client_key],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    for line in probed.stdout.splitlines():
        click.echo(f"    {line}")
    if probed.returncode != 0:
        click.echo("    the site keeps Connect JWTs")
        return
    _step("provider installations set-auth … forge: pushes go with the Forge token")
    subprocess.run(  # noqa: S603
        [python, "-m", "provider.cli", "installations", "set-auth", "--site", client_key, "forge"],
        env=env,
        capture_output=True,
        timeout=60,
        check=True,
    )


def _wait_for_incidents(
    sim_url: str, supervisor: Supervisor, timeout: float
) -> list[dict[str, Any]]:
    label = "waiting for the worker to deliver to Jira"
    deadline = time.monotonic() + timeout
    with click.progressbar(length=int(timeout), label=label, show_eta=False) as bar:
        waited = 0
        while time.monotonic() < deadline:
            supervisor.check()
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
    app_url: str, sim_url: str, secrets: dict[str, Any], incidents: list[dict[str, Any]]
) -> None:
    click.echo()
    click.secho(f"Jira holds {len(incidents)} incidents:", bold=True)
    for incident in incidents:
        # Jira links each incident to its page here, as its Incidents page does.
        click.echo(f"  - {incident.get('summary')}\n    {incident.get('url')}")
    click.echo()
    click.secho("Workspace key", bold=True, nl=False)
    click.echo(
        " (the incident, component and review pages ask for it to sign in; the API takes it):"
    )
    click.echo(f"  export KEY={secrets['apiKey']}")
    click.echo()
    click.secho("Open:", bold=True)
    click.echo(f"  What Jira holds (incidents, reviews, components): {sim_url}/")
    click.echo(
        f"  The app's admin page, framed as Jira does:        {sim_url}/_sim/sites/{SITE}/admin"
    )
    click.echo(f"  The app's start page (descriptor, docs, health):  {app_url}/")
    click.echo()
    click.secho("Try it:", bold=True)
    click.echo(
        f'  curl -X POST {app_url}/v1/alerts -H "Authorization: GenieKey $KEY" \\\n'
        "       -H 'Content-Type: application/json' \\\n"
        '       -d \'{"message": "payments: card declines above 10%", "priority": "P1", '
        '"tags": ["component:payments"]}\''
    )
    click.echo(f'  curl {app_url}/v1/incidents -H "Authorization: GenieKey $KEY"')
    click.echo(
        f"  integration webhook: {app_url}/v1/integrations/{secrets['integration']}/events "
        f"(GenieKey {secrets['integrationKey']})"
    )
    click.echo()


COMMANDS = [demo]
