"""The reliability suite runs the service as production does: gunicorn, worker processes, the
Jira simulator, and a database of its own, all on loopback (``bench.stack`` starts them).

Durations are bounded for CI; ``RELIABILITY_SECONDS`` makes the soak longer and
``RELIABILITY_FUZZ_CASES`` the fuzzer wider.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.stack import Stack
from tests.databases import Databases


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw.isdigit() else default


@pytest.fixture(scope="module")
def live_stack(databases: Databases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """gunicorn (production config) + the simulator's site ``acme`` installed, per module."""
    workdir: Path = tmp_path_factory.mktemp("stack")
    with Stack(databases.backend, workdir, database_url=databases.create(), web_workers=1) as s:
        yield s


def summary(name: str, **counts: object) -> None:
    """The one line each reliability test prints: what it survived."""
    print(f"\n[{name}] " + " ".join(f"{k}={v}" for k, v in counts.items()))
