"""A local Jira for development and tests: plays Jira's side of the Connect app over real HTTP.

A development tool kept apart from the product: nothing under ``provider`` imports it (only the
``jira-sim`` command and the tests do). It may import ``provider.connect.jwt`` and nothing else
of the product.
"""

from __future__ import annotations

from jira_simulator.faults import Fault
from jira_simulator.faults import FaultError
from jira_simulator.host import LifecycleResult
from jira_simulator.host import SimulatorError
from jira_simulator.simulator import Simulator

__all__ = ["Fault", "FaultError", "LifecycleResult", "Simulator", "SimulatorError"]
