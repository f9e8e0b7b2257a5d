"""Start what a benchmark needs on loopback: a database, gunicorn, the Jira simulator, workers.

Everything runs as production runs it: gunicorn with ``gunicorn.conf.py`` and the app built by
``provider.app:create_app()`` from environment variables, workers as ``provider worker``
processes. Only the simulator runs inside the benchmark process (it is the "remote" Jira).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
import sqlalchemy as sa
from sqlalchemy import insert
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from jira_simulator import Simulator
from provider import migrate
from provider.config import normalize_database_url
from provider.connect.models import Installation
from provider.db import make_engine
from provider.ops.components.models import Component
from provider.ops.workspaces.models import WorkspaceLink
from provider.ops.workspaces.service import create_workspace

ROOT = Path(__file__).resolve().parents[1]
SECRET_KEY = "bench-secret-key-" + "x" * 40
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


# ── processes ──────────────────────────────────────────────────────────────────────────────────


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mib(pid: int) -> float:
    """Resident set size of a process, in MiB."""
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE_KIB / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def processes(matching: Callable[[list[str]], bool]) -> list[int]:
    """The processes whose ``/proc/<pid>/stat`` fields after the name (state, ppid, pgrp,
    session, …) are ``matching``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                if matching(f.read().rsplit(")", 1)[1].split()):
                    found.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return sorted(found)


def children(pid: int) -> list[int]:
    return processes(lambda fields: int(fields[1]) == pid)


def stop_process(proc: subprocess.Popen[Any], timeout: float = 15) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        # The whole group (each process here starts one): gunicorn's workers go with the master.
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


# ── database ───────────────────────────────────────────────────────────────────────────────────


class Database:
    """A fresh, migrated database: a SQLite file, or a schema of its own on PostgreSQL.

    Given ``url`` (a test's own migrated database), it is used as it is and never dropped.
    """

    def __init__(self, backend: str, workdir: Path, url: str | None = None) -> None:
        self.backend = backend
        self._schema: str | None = None
        self._owned = url is None
        if url is not None:
            self.url = url
            self.server_url = None
            self.backend = "sqlite" if url.startswith("sqlite") else "postgresql"
        elif backend == "sqlite":
            self.url = f"sqlite:///{workdir / f'bench-{uuid.uuid4().hex[:8]}.sqlite3'}"
            self.server_url = None
        else:
            raw = os.environ.get("TEST_DATABASE_URL", "").strip()
            if not raw:
                raise RuntimeError("PostgreSQL runs need TEST_DATABASE_URL")
            self.server_url = normalize_database_url(raw)
            self._schema = f"bench_{uuid.uuid4().hex[:12]}"
            engine = sa.create_engine(self.server_url)
            with engine.begin() as conn:
                conn.exec_driver_sql(f'CREATE SCHEMA "{self._schema}"')
            engine.dispose()
            sep = "&" if "?" in self.server_url else "?"
            self.url = f"{self.server_url}{sep}options={quote(f'-csearch_path={self._schema}')}"
        if self._owned:
            migrate.upgrade(self.url)
        self.engine = make_engine(self.url)
        self.sessions = sessionmaker(bind=self.engine, expire_on_commit=False)

    def drop(self) -> None:
        self.engine.dispose()
        if not self._owned:
            return
        if self._schema and self.server_url:
            engine = sa.create_engine(self.server_url)
            with engine.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{self._schema}" CASCADE')
            engine.dispose()
        elif self.url.startswith("sqlite:///"):
            path = Path(self.url.removeprefix("sqlite:///"))
            for suffix in ("", "-wal", "-shm", "-journal"):
                with contextlib.suppress(FileNotFoundError):
                    Path(str(path) + suffix).unlink()


# ── the stack ──────────────────────────────────────────────────────────────────────────────────


@dataclass
class SeededWorkspace:
    id: int
    public_id: str
    api_key: str
    components: int


@dataclass
class Stack:
    """Database + simulator + gunicorn (+ workers), with the simulator's site ``acme`` installed."""

    backend: str
    workdir: Path
    database_url: str | None = None
    web_workers: int = 2
    sim_faults_seed: int = 0
    extra_env: dict[str, str] = field(default_factory=dict)
    site: str = "acme"

    db: Database = field(init=False)
    sim: Simulator = field(init=False)
    web: subprocess.Popen[Any] | None = field(init=False, default=None)
    workers: list[subprocess.Popen[Any]] = field(init=False, default_factory=list)
    port: int = field(init=False, default=0)
    _started_workers: int = field(init=False, default=0)

    def __enter__(self) -> Stack:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.db = Database(self.backend, self.workdir, self.database_url)
        self.backend = self.db.backend
        # gunicorn binds the address itself, as in production: its workers each open their own
        # socket (reuse_port) so the kernel balances connections across them.
        self.port = free_port()
        self.sim = Simulator(sites=(self.site,), seed=self.sim_faults_seed).start()
        try:
            self.start_web()
            result = self.sim.install(self.site, f"{self.base_url}/atlassian-connect.json")
            if not result.ok:
                raise RuntimeError(f"install failed: {result.responses}")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self.workers:
            stop_process(proc)
        self.workers.clear()
        self.stop_web()
        self.sim.stop()
        self.db.drop()

    # ── processes ──────────────────────────────────────────────────────────────────────────────

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "DATABASE_URL": self.db.url,
                "BASE_URL": self.base_url,
                "HOST": "127.0.0.1",
                "PORT": str(self.port),
                "SECRET_KEY": SECRET_KEY,
                "INSTALL_KEYS_URL": self.sim.keys_url,
                "ALLOWED_JIRA_HOSTS": "127.0.0.1",
                "WEB_CONCURRENCY": str(self.web_workers),
                "INSTANCE_PATH": str(self.workdir / "instance"),
                # The ops API's per-key limit would cap ingestion at 100 requests per second.
                "API_RATE_LIMIT_PER_MINUTE": "100000000",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra_env)
        return env

    def start_web(self) -> None:
        with open(self.workdir / "web.log", "ab") as log:
            self.web = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "-c",
                    str(ROOT / "gunicorn.conf.py"),
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "provider.app:create_app()",
                ],
                env=self.env(),
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                process_group=0,
            )
        self._wait_healthy()

    def stop_web(self) -> None:
        if self.web is not None:
            stop_process(self.web)
            self.web = None

    def _wait_healthy(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.web is not None and self.web.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.workdir / 'web.log'}")
            with contextlib.suppress(requests.RequestException):
                healthy = requests.get(f"{self.base_url}/healthz", timeout=1).ok
                # every worker must be up before a measurement starts
                if healthy and len(self.web_worker_pids()) >= self.web_workers:
                    return
            time.sleep(0.1)
        raise RuntimeError("gunicorn did not become healthy")

    def web_worker_pids(self) -> list[int]:
        return children(self.web.pid) if self.web is not None else []

    def start_worker(self, *args: str) -> subprocess.Popen[Any]:
        self._started_workers += 1
        with open(self.workdir / f"worker-{self._started_workers}.log", "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "provider.cli", "worker", *args],
                env=self.env(),
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                process_group=0,
            )
        self.workers.append(proc)
        return proc

    # ── Jira's side ────────────────────────────────────────────────────────────────────────────

    @property
    def client_key(self) -> str:
        return self.sim.site(self.site).client_key

    @property
    def shared_secret(self) -> str:
        secret = self.sim.site(self.site).shared_secret
        assert secret is not None
        return secret

    def installation_id(self) -> int:
        with self.db.sessions() as session:
            return session.scalars(
                sa.select(Installation.id).where(Installation.client_key == self.client_key)
            ).one()

    # ── data ───────────────────────────────────────────────────────────────────────────────────

    def seed_workspace(
        self, name: str, *, components: int = 0, link: bool = True
    ) -> SeededWorkspace:
        """A workspace linked to the site, with ``components`` components named ``svc-00000``…

        Rows are written straight to the tables (no outbox messages): this is data to read.
        """
        installation_id = self.installation_id()
        with self.db.sessions.begin() as session:
            workspace, api_key, _ = create_workspace(session, name)
            if link:
                session.add(
                    WorkspaceLink(installation_id=installation_id, workspace_id=workspace.id)
                )
            add_components(session, workspace.id, components)
            return SeededWorkspace(workspace.id, workspace.public_id, api_key, components)


def add_components(session: Session, workspace_id: int, n: int, *, start: int = 0) -> None:
    rows = [
        {
            "public_id": str(uuid.uuid4()),
            "workspace_id": workspace_id,
            "name": f"svc-{i:05d}",
            "name_lower": f"svc-{i:05d}",
            "description": f"Service number {i}",
            "update_sequence_number": 1,
        }
        for i in range(start, start + n)
    ]
    for chunk in range(0, len(rows), 5000):
        session.execute(insert(Component), rows[chunk : chunk + 5000])


@contextlib.contextmanager
def stack(backend: str, workdir: Path, **kwargs: Any) -> Iterator[Stack]:
    with Stack(backend, workdir / f"{backend}-{secrets.token_hex(3)}", **kwargs) as s:
        yield s
