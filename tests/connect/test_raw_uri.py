"""qsh verification end to end through gunicorn, with request-targets sent byte for byte.

Production runs gunicorn, whose ``RAW_URI`` carries the request-target exactly as Jira sent it.
The app is served below a base path (``SCRIPT_NAME=/app``, ``BASE_URL=…/app``) so the base-path
strip is exercised as well. ``http.client`` sends each target unchanged.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from provider.db import make_engine
from provider.db import make_session_factory
from tests.conftest import TEST_SECRET_KEY
from tests.databases import Databases
from tests.installs import make_installation
from tests.ops.factories import link
from tests.ops.factories import make_component
from tests.ops.factories import make_workspace
from tests.signing import JiraSigner

ROOT = Path(__file__).resolve().parents[2]
APP_BASE_URL = "https://provider.example.com/app"


class Server:
    def __init__(self, port: int, signer: JiraSigner, workspace_id: str, access_log: Path) -> None:
        self.port = port
        self.signer = signer
        self.workspace_id = workspace_id
        self.access_log = access_log

    def send(
        self,
        method: str,
        target: str,
        *,
        token: str | None = None,
        body: bytes | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.putrequest(method, target, skip_accept_encoding=True)
            if token is not None:
                conn.putheader("Authorization", f"JWT {token}")
            for name, value in (headers or {}).items():
                conn.putheader(name, value)
            if body is not None:
                conn.putheader("Content-Type", content_type)
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            response = conn.getresponse()
            data = response.read()
            is_json = response.getheader("Content-Type", "").startswith("application/json")
            return response.status, json.loads(data or b"null") if is_json else data
        finally:
            conn.close()

    def signed(self, method: str, target: str, **kwargs: Any) -> tuple[int, Any]:
        return self.send(method, target, token=self.signer.request_token(method, target), **kwargs)


@pytest.fixture(scope="module")
def server(databases: Databases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    database_url = databases.create()
    signer = JiraSigner(app_base_url=APP_BASE_URL)
    engine = make_engine(database_url)
    with make_session_factory(engine).begin() as session:
        installation = make_installation(session, signer)
        workspace = make_workspace(session, "Payments")
        link(session, installation, workspace)
        for name in ["Café", "a b c", "a+b", "x&y=z", "plain"]:
            make_component(session, workspace, name)
        workspace_id = workspace.public_id
    engine.dispose()

    log = tmp_path_factory.mktemp("gunicorn") / "error.log"
    access_log = log.with_name("access.log")
    # Each gunicorn worker binds its own socket (reuse_port), so the port is chosen up front.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": database_url,
        "BASE_URL": APP_BASE_URL,
        "SECRET_KEY": TEST_SECRET_KEY,
        "SCRIPT_NAME": "/app",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "WEB_THREADS": "2",
        "LOG_LEVEL": "WARNING",
    }
    with log.open("w") as err, access_log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                str(ROOT / "gunicorn.conf.py"),
                "tests.connect.gunicorn_app:make_app()",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=err,
        )
    try:
        _wait_until_serving(port, proc, log)
        yield Server(port, signer, workspace_id, access_log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_until_serving(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {log.read_text()}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/app/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.05)
        finally:
            conn.close()
    raise RuntimeError(f"gunicorn never answered /healthz: {log.read_text()}")


def _container_names(body: Any) -> list[str]:
    return sorted(c["name"] for c in body["containers"])


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("searchQuery=caf%C3%A9", ["Café"]),
        ("searchQuery=CAF%C3%89", ["Café"]),
        ("searchQuery=a+b", ["a b c"]),
        ("searchQuery=a%20b", ["a b c"]),
        ("searchQuery=a%2Bb", ["a+b"]),
        ("searchQuery=x%26y%3Dz", ["x&y=z"]),
        ("searchQuery=PLAIN&lic=active&tz=Europe%2FBerlin&xdm_e=https%3A%2F%2Fa.b&cp=", ["plain"]),
        ("a%2Fb=1&a.b=2&searchQuery=plain&%E2%9C%93=%F0%9F%98%80", ["plain"]),
        ("searchQuery=plain&k=2&k=1&k=%2C&k=", ["plain"]),
    ],
)
def test_search_containers_through_gunicorn(
    server: Server, query: str, expected: list[str]
) -> None:
    target = f"/app/containers/search?{query}&workspaceId={server.workspace_id}"
    status, body = server.signed("GET", target)
    assert status == 200, body
    assert _container_names(body) == expected


@pytest.mark.parametrize(
    "target",
    [
        "/app/probe/a&b=c?x=y",
        "/app/probe/a&b=c",
        "/app/probe/caf%C3%A9?q=%C3%A9t%C3%A9",
        "/app/probe/a%20b%2Fc?q=a+b&q=a%2Bb&q=a%20b",
        "/app/probe/p;x=1/y?z=1",
        "/app/probe/x?r=%21%2A%27%28%29%3B%3A%40%26%3D%2B%24%2C%2F%3F%23%5B%5D",
        "/app/probe/x?a=1&&b=&c",
        "/app/probe/x/?b=2&a=1",
    ],
)
def test_probe_targets_verify(server: Server, target: str) -> None:
    status, body = server.signed("GET", target)
    assert status == 200, body


def test_token_in_query_through_gunicorn(server: Server) -> None:
    target = f"/app/containers/search?searchQuery=plain&workspaceId={server.workspace_id}"
    token = server.signer.request_token("GET", target)
    status, body = server.send("GET", f"{target}&jwt={token}")
    assert status == 200, body
    assert _container_names(body) == ["plain"]


def test_fetch_workspaces_through_gunicorn(server: Server) -> None:
    body = json.dumps({"ids": [server.workspace_id]}).encode()
    status, answer = server.signed("POST", "/app/workspaces/list", body=body)
    assert status == 200, answer
    assert [w["name"] for w in answer["workspaces"]] == ["Payments"]


def test_qsh_is_bound_to_the_raw_encoding(server: Server) -> None:
    """A token for ``a%2Fb`` does not verify ``a/b``: the hash is over the bytes Jira sent."""
    token = server.signer.request_token("GET", "/app/probe/a%2Fb")
    status, body = server.send("GET", "/app/probe/a/b", token=token)
    assert status == 401
    assert body["errors"][0]["code"] == "invalid_qsh"


def test_ampersand_in_path_does_not_collide_with_query(server: Server) -> None:
    """``/p&a=b`` and ``/p?a=b`` hash differently (Atlassian's ACDEV-1048)."""
    token = server.signer.request_token("GET", "/app/probe/p?a=b")
    status, _ = server.send("GET", "/app/probe/p&a=b", token=token)
    assert status == 401


def test_form_post_parameters_verify(server: Server) -> None:
    target = "/app/probe/form"
    token = server.signer.request_token(
        "POST", target, qsh=server.signer.qsh("POST", target + "?a=1&b=x+y")
    )
    status, body = server.send(
        "POST",
        target,
        token=token,
        body=b"a=1&b=x+y",
        content_type="application/x-www-form-urlencoded",
    )
    assert status == 200, body


def test_page_tokens_never_reach_the_access_log(server: Server) -> None:
    token = server.signer.request_token("GET", "/admin?xdm_e=https%3A%2F%2Facme.atlassian.net")
    target = f"/app/admin?xdm_e=https%3A%2F%2Facme.atlassian.net&jwt={token}"
    referer = f"https://provider.example.com/app/admin?jwt={token}&lic=none"
    status, _body = server.send("GET", target, headers={"Referer": referer})
    assert status == 200
    deadline = time.monotonic() + 10
    while "/app/admin" not in server.access_log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    logged = server.access_log.read_text()
    assert "/app/admin?xdm_e=" in logged
    assert "jwt=[redacted]" in logged
    assert token not in logged
    assert token.split(".")[2] not in logged
