"""The ``provider`` command, run as a real subprocess against a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from provider.db import make_engine
from provider.db import make_session_factory
from tests.conftest import TEST_BASE_URL
from tests.conftest import TEST_SECRET_KEY
from tests.installs import make_installation
from tests.signing import JiraSigner


def run_cli(
    database_url: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": database_url,
        "BASE_URL": TEST_BASE_URL,
        "SECRET_KEY": TEST_SECRET_KEY,
        "LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "provider.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_installations_list_prints_one_json_object_each_without_secrets(
    fresh_database_url: str,
) -> None:
    signers = [JiraSigner(app_base_url=TEST_BASE_URL) for _ in range(2)]
    engine = make_engine(fresh_database_url)
    with make_session_factory(engine).begin() as session:
        make_installation(session, signers[0])
        make_installation(session, signers[1], installed=False, enabled=False)
    engine.dispose()

    result = run_cli(fresh_database_url, "installations", "list")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["clientKey"] for r in rows] == [s.client_key for s in signers]
    assert [r["state"] for r in rows] == ["enabled", "uninstalled"]
    for signer in signers:
        assert signer.shared_secret not in result.stdout
        assert signer.shared_secret not in result.stderr
    assert all("secret" not in key.lower() for row in rows for key in row)


def test_db_upgrade_is_idempotent(fresh_database_url: str) -> None:
    result = run_cli(fresh_database_url, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert "database at" in result.stdout
