from __future__ import annotations

from collections.abc import Iterator

import pytest

from jira_simulator import Simulator
from jira_simulator.keys import KeyPair
from tests.jira_simulator.helpers import AppSigner
from tests.jira_simulator.helpers import RecordingApp
from tests.jira_simulator.helpers import ServerThread


@pytest.fixture(scope="session")
def sim_keys() -> KeyPair:
    return KeyPair.generate()


@pytest.fixture
def sim(sim_keys: KeyPair) -> Iterator[Simulator]:
    with Simulator(sites=("acme", "globex"), seed=1234, keys=sim_keys) as simulator:
        yield simulator


@pytest.fixture
def recording() -> RecordingApp:
    return RecordingApp()


@pytest.fixture
def recording_url(recording: RecordingApp) -> Iterator[str]:
    with ServerThread(recording.wsgi()) as server:
        yield server.url


@pytest.fixture
def installed(sim: Simulator, recording_url: str) -> Simulator:
    """The simulator with the recording app installed on site ``acme``."""
    result = sim.install("acme", f"{recording_url}/atlassian-connect.json")
    assert result.ok
    return sim


@pytest.fixture
def app_client(installed: Simulator) -> AppSigner:
    return AppSigner(installed, "acme")
