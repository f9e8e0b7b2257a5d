"""Scenario 5: how searches and lists cost as the tables grow from 1k to 10k to 100k rows.

One workspace holds N components and N alerts; the same requests are measured at each size.
The cost of a page must follow the page, not the table.
"""

from __future__ import annotations

import logging
import random
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import quote
from urllib.parse import urlencode

from sqlalchemy import insert

from bench import loadgen
from bench.jira_calls import signed
from bench.stack import SeededWorkspace
from bench.stack import Stack
from bench.stack import add_components
from provider.ops.alerts.models import Alert
from provider.ops.alerts.models import AlertStatus
from provider.ops.alerts.models import Priority
from provider.times import utcnow

logger = logging.getLogger(__name__)

SIZES = (1_000, 10_000, 100_000)


def add_alerts(stack: Stack, workspace: SeededWorkspace, start: int, stop: int) -> None:
    rng = random.Random(start)
    now = utcnow()
    priorities = list(Priority)
    with stack.db.sessions.begin() as session:
        rows: list[dict[str, Any]] = []
        for i in range(start, stop):
            created = now - timedelta(seconds=stop - i)
            rows.append(
                {
                    "public_id": str(uuid.uuid4()),
                    "workspace_id": workspace.id,
                    "alias": f"seed-{i}",
                    # one alert in ten is still open, as in a real history
                    "status": AlertStatus.OPEN if i % 10 == 0 else AlertStatus.CLOSED,
                    "message": f"Disk usage above 90% on host-{i % 500}",
                    "entity": f"host-{i % 500}",
                    "priority": rng.choice(priorities),
                    "tags": ["seed", f"team-{i % 7}"],
                    "created_at": created,
                    "updated_at": created,
                    "last_occurred_at": created,
                }
            )
            if len(rows) == 5000:
                session.execute(insert(Alert), rows)
                rows = []
        if rows:
            session.execute(insert(Alert), rows)


def settle(stack: Stack) -> None:
    """On PostgreSQL, what autovacuum does within a minute or two of a table growing tenfold.

    The seeding above writes 90,000 rows in one go and the requests follow at once: the planner
    would still hold the statistics of the small table (and choose a scan of the workspace over
    the trigram index), index-only scans would visit the heap and the trigram index would still
    hold its pending list. A workspace grows over days, with autovacuum keeping up; the figures
    are of that state. SQLite keeps no statistics (the app never runs ANALYZE), so its plans
    never depend on them and nothing is done there.
    """
    if stack.backend != "postgresql":
        return
    with stack.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM (ANALYZE) components, alerts")


def requests_for(stack: Stack, workspace: SeededWorkspace) -> dict[str, list[loadgen.Request]]:
    key = {"Authorization": f"GenieKey {workspace.api_key}"}

    def search(query: str) -> str:
        q = urlencode({"searchQuery": query, "workspaceId": workspace.public_id}, quote_via=quote)
        return f"/containers/search?{q}"

    return {
        "searchContainers, 10 matches": [
            signed(stack, "GET", search(f"svc-00{n:02d}")) for n in range(10, 60)
        ],
        # Jira searches as its user types: the first characters start every name here.
        "searchContainers, a prefix of every name (first 200)": [
            signed(stack, "GET", search(q)) for q in ("svc", "svc-", "SVC-0")
        ],
        "searchContainers, empty query (first 200)": [signed(stack, "GET", search(""))],
        "GET /v1/alerts (newest 20)": [loadgen.Request("GET", "/v1/alerts", key)],
        "GET /v1/alerts?query=status:open (20)": [
            loadgen.Request("GET", "/v1/alerts?query=status%3Aopen&limit=20", key)
        ],
        "GET /v1/components (first 20)": [loadgen.Request("GET", "/v1/components", key)],
    }


def run(
    stack: Stack, *, duration: float, use_wrk: bool, sizes: tuple[int, ...] = SIZES
) -> dict[str, Any]:
    workspace = stack.seed_workspace("Growth", components=0)
    results: dict[str, Any] = {}
    have = 0
    for size in sizes:
        with stack.db.sessions.begin() as session:
            add_components(session, workspace.id, size - have, start=have)
        add_alerts(stack, workspace, have, size)
        settle(stack)
        have = size
        row: dict[str, Any] = {}
        for name, reqs in requests_for(stack, workspace).items():
            loadgen.run(stack.base_url, reqs, duration=0.5, connections=2, use_wrk=use_wrk)
            r = loadgen.run(stack.base_url, reqs, duration=duration, connections=2, use_wrk=use_wrk)
            if r.errors:
                raise RuntimeError(f"{name}: {r.errors} errors")
            row[name] = {
                "p50_ms": round(r.p50_ms, 2),
                "p99_ms": round(r.p99_ms, 2),
                "rps": round(r.rps, 1),
            }
        logger.info("growth %s: %s", size, row)
        results[str(size)] = row
    return results
