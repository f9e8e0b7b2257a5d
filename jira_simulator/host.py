"""What the simulator's HTTP layer needs of the simulator, so the layer never imports it.

``server`` and ``jira_api`` are handed a :class:`Host` (the :class:`~jira_simulator.simulator.
Simulator` is one); the simulator imports them to serve, and nothing imports back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from typing import Protocol

import requests

from jira_simulator.faults import Faults
from jira_simulator.forge import Forge
from jira_simulator.keys import KeyPair
from jira_simulator.quota import Quotas
from jira_simulator.state import World


class SimulatorError(RuntimeError):
    """The simulator cannot do what was asked (unknown site, app not installed, …)."""


@dataclass(frozen=True, slots=True)
class LifecycleResult:
    """The answers of the app to an install (``installed`` then ``enabled``) or another event."""

    responses: dict[str, requests.Response]

    @property
    def ok(self) -> bool:
        return bool(self.responses) and all(r.ok for r in self.responses.values())

    def __getitem__(self, event: str) -> requests.Response:
        return self.responses[event]


class Host(Protocol):
    world: World
    faults: Faults
    quotas: Quotas
    keys: KeyPair
    forge: Forge
    max_entities: int
    strict_retry_after: bool

    @property
    def url(self) -> str: ...

    @property
    def keys_url(self) -> str: ...

    def state(self, site: str | None = None) -> dict[str, Any]: ...

    def counters(self) -> dict[str, Any]: ...

    def reset(self) -> None: ...

    def install(
        self, site: str, descriptor_url: str, *, sign: bool = True, forge: bool = False
    ) -> LifecycleResult: ...

    def forge_event(self, site: str, event: str = ...) -> requests.Response: ...

    def uninstall(self, site: str, *, sign: bool = True) -> LifecycleResult: ...

    def disable(self, site: str, *, sign: bool = True) -> LifecycleResult: ...

    def enable(self, site: str, *, sign: bool = True) -> LifecycleResult: ...

    def admin_page_url(self, site: str) -> str: ...

    def context_token(self, site: str) -> str: ...

    def app_origin(self, site: str) -> str: ...
