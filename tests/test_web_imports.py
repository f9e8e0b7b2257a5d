"""What the web process leaves unimported until a request needs it.

Every module a web worker imports stays resident for the worker's life (a few MiB each for the
ones below). Run in a fresh interpreter: this test process has imported everything already.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# Only outgoing calls use requests (and with it urllib3, charset_normalizer, idna): the web
# process fetches install and Forge keys with it, when a token names a kid it has not seen.
# alembic (with mako) answers /readyz only.
DEFERRED = ("requests", "urllib3", "charset_normalizer", "alembic", "mako")

PROBE = """
import json, sys
from provider.app import create_app
create_app()
print(json.dumps(sorted(sys.modules)))
"""


def test_building_the_web_app_imports_no_outgoing_http_client(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.sqlite3'}",
        "BASE_URL": "http://127.0.0.1:8000",
        "SECRET_KEY": "web-imports-test-" + "x" * 40,
    }
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    modules = json.loads(result.stdout.splitlines()[-1])
    assert [m for m in modules if m.split(".")[0] in DEFERRED] == []
