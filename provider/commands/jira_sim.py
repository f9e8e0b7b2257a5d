"""``provider jira-sim``: run the local Jira simulator in the foreground."""

from __future__ import annotations

import contextlib
import signal

import click


@click.command("jira-sim")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=9000, show_default=True)
@click.option("--site", "sites", multiple=True, help="a site to create (repeatable; default acme)")
@click.option("--install", "descriptor_url", help="install the app from this descriptor URL")
@click.option("--max-entities", type=int, default=1000, show_default=True, help="413 above this")
@click.option("--strict-retry-after", is_flag=True, help="answer 429 to early retries")
@click.option("--seed", type=int, default=0, show_default=True, help="seed of the fault RNG")
@click.option("--forge", is_flag=True, help="install the Forge way (Connect on Forge, FIT calls)")
@click.option("--forge-app-id", default=None, help="the app id in Forge's tokens (FORGE_APP_ID)")
@click.option(
    "--accept-forge-tokens",
    is_flag=True,
    help="take Forge system tokens on the REST APIs (Jira documents that it does not)",
)
def jira_sim(
    host: str,
    port: int,
    sites: tuple[str, ...],
    descriptor_url: str | None,
    max_entities: int,
    strict_retry_after: bool,
    seed: int,
    forge: bool,
    forge_app_id: str | None,
    accept_forge_tokens: bool,
) -> None:
    """Play Jira locally: sites, signed installs, the Operations and DevOps Components APIs."""
    from jira_simulator import Simulator
    from jira_simulator import SimulatorError
    from jira_simulator.forge import DEFAULT_APP_ID

    sim = Simulator(
        host,
        port,
        sites=sites or ("acme",),
        max_entities=max_entities,
        strict_retry_after=strict_retry_after,
        seed=seed,
        log_requests=True,
        forge_app_id=forge_app_id or DEFAULT_APP_ID,
        accept_forge_tokens=accept_forge_tokens,
    )
    sim.start()
    click.echo(f"Jira simulator on {sim.url} (state page {sim.url}/)")
    click.echo(f"set INSTALL_KEYS_URL={sim.keys_url} and allow host {host} in ALLOWED_JIRA_HOSTS")
    click.echo(
        f"for Forge: FORGE_APP_ID={sim.forge.app_id} FORGE_JWKS_URL={sim.forge_jwks_url} "
        f"FORGE_API_HOSTS={host}"
    )
    for name in sim.world.sites:
        click.echo(f"site {name}: {sim.world.sites[name].base_url}")
    if descriptor_url:
        for name in list(sim.world.sites):
            try:
                result = sim.install(name, descriptor_url, forge=forge)
            except SimulatorError as e:
                sim.stop()
                raise click.ClickException(str(e)) from None
            answers = ", ".join(f"{k} {r.status_code}" for k, r in result.responses.items())
            click.echo(f"installed on {name}: {answers}")
    # A supervisor's SIGTERM stops the simulator as cleanly as Ctrl-C does.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with contextlib.suppress(KeyboardInterrupt):
        sim.serve_forever()


COMMANDS = [jira_sim]
