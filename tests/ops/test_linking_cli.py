"""The ``provider workspaces link|unlink`` commands, run as real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from sqlalchemy import select

from provider.db import make_engine
from provider.db import make_session_factory
from provider.ops.workspaces.models import WorkspaceLink
from provider.outbox.models import OutboxMessage
from tests.conftest import TEST_SECRET_KEY
from tests.ops.incident_factories import make_component
from tests.ops.incident_factories import make_installation
from tests.ops.incident_factories import make_workspace


def _run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        SECRET_KEY=TEST_SECRET_KEY,
        BASE_URL="https://provider.example.com",
        LOG_LEVEL="WARNING",
    )
    return subprocess.run(
        [sys.executable, "-m", "provider.cli", "workspaces", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_link_and_unlink_from_the_command_line(fresh_database_url: str) -> None:
    engine = make_engine(fresh_database_url)
    factory = make_session_factory(engine)
    with factory() as session:
        inst = make_installation(session)
        made = make_workspace(session)
        make_component(session, made.workspace)
        session.commit()
        client_key, ws_id, code = inst.client_key, made.workspace.public_id, made.link_code

    wrong = _run(fresh_database_url, "link", "--client-key", client_key, "--link-code", "nope")
    assert wrong.returncode == 1
    assert "not valid" in wrong.stderr

    ok = _run(fresh_database_url, "link", "--client-key", client_key, "--link-code", code)
    assert ok.returncode == 0, ok.stderr
    assert ws_id in ok.stdout
    with factory() as session:
        assert session.scalars(select(WorkspaceLink)).all() != []
        kinds = [m.kind for m in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]
        # the link, then the workspace's fallback component and the one made above
        assert kinds == ["linked_workspace", "component", "component"]

    missing = _run(fresh_database_url, "unlink", "--client-key", "nobody", "--workspace", ws_id)
    assert missing.returncode == 1

    gone = _run(fresh_database_url, "unlink", "--client-key", client_key, "--workspace", ws_id)
    assert gone.returncode == 0, gone.stderr
    with factory() as session:
        assert session.scalars(select(WorkspaceLink)).all() == []
    engine.dispose()


def test_link_codes_rotate_and_the_audit_log_tells_from_the_command_line(
    fresh_database_url: str,
) -> None:
    made = json.loads(_run(fresh_database_url, "create", "--name", "Ops").stdout)
    fresh = _run(fresh_database_url, "link-code", "--workspace", made["id"], "--hours", "2")
    assert fresh.returncode == 0, fresh.stderr
    new_code = json.loads(fresh.stdout)["linkCode"]
    assert new_code != made["linkCode"]
    assert new_code.startswith("wlc_")

    rotated = _run(fresh_database_url, "rotate-key", "--workspace", made["id"], "--revoke-links")
    assert rotated.returncode == 0, rotated.stderr
    assert json.loads(rotated.stdout)["unlinkedSites"] == 0

    log = [
        json.loads(line)
        for line in _run(fresh_database_url, "audit", "--workspace", made["id"]).stdout.splitlines()
    ]
    assert [e["action"] for e in log] == [
        "key.rotated",
        "link_code.issued",
        "link_code.issued",
        "workspace.created",
    ]
    assert "1 unused link codes revoked" in log[0]["detail"]
