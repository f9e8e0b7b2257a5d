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

# Only the worker's outgoing calls use requests (and with it urllib3, charset_normalizer, idna):
# the web process fetches install and Forge keys with http.client, which werkzeug has loaded.
# alembic (with mako) answers /readyz only.
DEFERRED = ("requests", "urllib3", "charset_normalizer", "alembic", "mako")

PROBE = """
import json, sys
from provider.app import create_app
create_app()
print(json.dumps(sorted(sys.modules)))
"""


# The fetches a web worker makes (an install with a new kid, a Forge token with a new kid), from a
# key server on loopback, after the app is built.
FETCH_PROBE = """
import json, sys
from provider.app import create_app
from provider.connect.forge_keys import HttpForgeKeys
from provider.connect.install_keys import HttpInstallKeys
from tests.forge import JWKS_PATH, forge_rsa_key, jwks
from tests.keyserver import KeyServer
from tests.signing import shared_rsa_key
create_app()
install_key, forge_key = shared_rsa_key(), forge_rsa_key()
with KeyServer() as server:
    server.add(install_key.kid, install_key.public_pem)
    server.add(JWKS_PATH, jwks(forge_key))
    HttpInstallKeys(server.url).public_key(install_key.kid)
    HttpForgeKeys(f"{server.url}/{JWKS_PATH}", allow_private=True).public_key(forge_key.kid)
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after(probe: str, tmp_path: Path) -> list[str]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.sqlite3'}",
        "BASE_URL": "http://127.0.0.1:8000",
        "SECRET_KEY": "web-imports-test-" + "x" * 40,
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    modules: list[str] = json.loads(result.stdout.splitlines()[-1])
    return modules


def test_building_the_web_app_imports_no_outgoing_http_client(tmp_path: Path) -> None:
    modules = _modules_after(PROBE, tmp_path)
    assert [m for m in modules if m.split(".")[0] in DEFERRED] == []


def test_fetching_install_and_forge_keys_imports_no_outgoing_http_client(tmp_path: Path) -> None:
    modules = _modules_after(FETCH_PROBE, tmp_path)
    assert "provider.connect.key_fetch" in modules
    assert [m for m in modules if m.split(".")[0] in DEFERRED] == []
