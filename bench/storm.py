"""Scenario 5: an alert storm from five workspaces, one of them configured as badly as it may.

wrk sends ``ALERTS`` creates over ``ALIASES`` aliases (so every alias is de-duplicated
``ALERTS / ALIASES`` times), one in twenty a P1, spread over five workspaces by alias, on 32
connections, while one worker (or ``--storm-workers``) processes them. Workspace 0 holds the
costliest configuration the limits allow (``bench/hostile.py``) and its alerts meet every one of
its patterns.

Reported: accepted/s and the 202's p50/p99; processed/s end to end (first 202 to the last
request processed) for the four well-behaved workspaces; their p99 from 202 to processed (the
request's ``created_at`` to ``processed_at``, both written by this machine's clock); how far the
hostile workspace got meanwhile; and ``/healthz`` in the same stack, so that the intake's rate
can be read as a share of a bare request's.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import requests as http
from sqlalchemy import func
from sqlalchemy import select

from bench import hostile
from bench import loadgen
from bench.ingestion import WRK_DONE
from bench.stack import Stack
from bench.stack import cpu_seconds
from provider.ops.alerts.models import Alert
from provider.ops.alerts.models import AlertAction
from provider.ops.alerts.models import AlertRequest
from provider.ops.alerts.models import AlertStatus
from provider.ops.alerts.models import RequestState
from provider.ops.components.models import Component

logger = logging.getLogger(__name__)

ALERTS = 20_000
ALIASES = 1_000
WORKSPACES = 5
CONNECTIONS = 32
# A public address: the hostile actions must pass the outbound check, and never match anyway.
NOWHERE = "https://93.184.216.34/hook"


def storm_lua(keys: list[str], *, alerts: int, aliases: int, threads: int) -> str:
    """Each wrk thread sends its share of ``alerts`` and stops; alias ``n % aliases`` goes to
    workspace ``alias % len(keys)``, and workspace 0's alerts meet its patterns."""
    quoted = ", ".join(f'"{k}"' for k in keys)
    poison = hostile.POISON
    return (
        f"""
local keys = {{{quoted}}}
local counter = 0
local n = 0
local sent = 0
local quota = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
function init(args)
  quota = math.floor({alerts} / {threads})
  if tid == 0 then quota = quota + {alerts} % {threads} end
end
function request()
  local i = n * {threads} + tid
  n = n + 1
  local alias = i % {aliases}
  local ws = alias % #keys
  local priority = (i % 20 == 0) and "P1" or "P3"
  local message = "disk almost full on db-" .. alias
  local entity = "db"
  if ws == 0 then message = "{poison}"; entity = "{poison}" end
  local body = '{{"message": "' .. message .. '", "alias": "storm-' .. alias ..
    '", "priority": "' .. priority .. '", "entity": "' .. entity .. '", "tags": ["storm"]}}'
  return wrk.format("POST", "/v1/alerts", {{["Authorization"] = "GenieKey " .. keys[ws + 1],
    ["Content-Type"] = "application/json"}}, body)
end
function response(status, headers, body)
  sent = sent + 1
  if sent >= quota then wrk.thread:stop() end
end
"""
        + WRK_DONE
    )


def _configure_hostile(stack: Stack, workspace_id: int, key: str) -> dict[str, Any]:
    session = http.Session()
    session.headers["Authorization"] = f"GenieKey {key}"

    def call(method: str, path: str, body: dict[str, Any] | None) -> tuple[int, Any]:
        answer = session.request(method, f"{stack.base_url}{path}", json=body, timeout=60)
        return answer.status_code, answer.json() if answer.content else None

    with stack.db.sessions() as s:
        component = s.scalars(
            select(Component.public_id).where(Component.workspace_id == workspace_id).limit(1)
        ).one()
    return hostile.configure(call, component_id=component, url=NOWHERE)


def _progress(stack: Stack, workspace_ids: list[int]) -> tuple[int, int]:
    """(processed, pending) requests of these workspaces."""
    with stack.db.sessions() as session:
        rows = session.execute(
            select(AlertRequest.state, func.count())
            .where(AlertRequest.workspace_id.in_(workspace_ids))
            .group_by(AlertRequest.state)
        ).all()
    counts: dict[RequestState, int] = {state: n for state, n in rows}  # noqa: C416
    return counts.get(RequestState.PROCESSED, 0), counts.get(RequestState.PENDING, 0)


def _intake_rate(stack: Stack, workspace_ids: list[int]) -> float:
    """Requests accepted per second, first to last (wrk's own clock runs until it is stopped)."""
    with stack.db.sessions() as session:
        count, first, last = session.execute(
            select(
                func.count(), func.min(AlertRequest.created_at), func.max(AlertRequest.created_at)
            ).where(AlertRequest.workspace_id.in_(workspace_ids))
        ).one()
    return round(count / max((last - first).total_seconds(), 1e-3), 1)


def _deduplication(stack: Stack, workspace_ids: list[int]) -> dict[str, int]:
    """Per alias of these workspaces (all their requests processed by now): exactly one open
    alert, whose count is the creates accepted for that alias."""
    with stack.db.sessions() as session:
        sent = {
            (w, a): n
            for w, a, n in session.execute(
                select(AlertRequest.workspace_id, AlertRequest.alias, func.count())
                .where(
                    AlertRequest.workspace_id.in_(workspace_ids),
                    AlertRequest.action == AlertAction.CREATE,
                )
                .group_by(AlertRequest.workspace_id, AlertRequest.alias)
            )
        }
        open_alerts: dict[tuple[int, str], list[int]] = {}
        for w, a, count in session.execute(
            select(Alert.workspace_id, Alert.alias, Alert.count).where(
                Alert.workspace_id.in_(workspace_ids), Alert.status == AlertStatus.OPEN
            )
        ):
            open_alerts.setdefault((w, a), []).append(count)
    exact = sum(1 for key, n in sent.items() if open_alerts.get(key) == [n])
    return {"aliases": len(sent), "exact": exact, "not_exact": len(sent) - exact}


def _latencies(stack: Stack, workspace_ids: list[int]) -> dict[str, float]:
    with stack.db.sessions() as session:
        rows = session.execute(
            select(AlertRequest.created_at, AlertRequest.processed_at).where(
                AlertRequest.workspace_id.in_(workspace_ids),
                AlertRequest.processed_at.is_not(None),
            )
        ).all()
    waits = sorted((p - c).total_seconds() for c, p in rows)
    if not waits:
        return {}
    first = min(c for c, _ in rows)
    last = max(p for _, p in rows)
    span = max((last - first).total_seconds(), 1e-3)

    def pct(q: float) -> float:
        return round(waits[min(len(waits) - 1, int(q * len(waits)))], 3)

    return {
        "processed": len(waits),
        "processed_per_second_end_to_end": round(len(waits) / span, 1),
        "seconds_202_to_processed_p50": pct(0.5),
        "seconds_202_to_processed_p99": pct(0.99),
        "seconds_202_to_processed_max": round(waits[-1], 3),
    }


def run(
    stack: Stack,
    *,
    alerts: int = ALERTS,
    aliases: int = ALIASES,
    healthz_seconds: float = 5,
    workers: int = 1,
) -> dict[str, Any]:
    seeded = [
        stack.seed_workspace(f"Storm {n}", components=1 if n == 0 else 0) for n in range(WORKSPACES)
    ]
    started = time.monotonic()
    _configure_hostile(stack, seeded[0].id, seeded[0].api_key)
    configure_seconds = time.monotonic() - started
    healthz = loadgen.run(
        stack.base_url, [loadgen.Request("GET", "/healthz")], duration=healthz_seconds
    )
    started_workers = [stack.start_worker() for _ in range(workers)]
    time.sleep(2)
    cpu_before = sum(cpu_seconds(p) for p in stack.web_worker_pids())
    threads = 2
    everyone = [w.id for w in seeded]
    seen = [0, time.monotonic()]

    def finished() -> bool:
        # every wrk thread stops after its share; then the count stops growing
        count = sum(_progress(stack, everyone))
        if count != seen[0]:
            seen[:] = [count, time.monotonic()]
        return count >= alerts or (count > 0 and time.monotonic() - seen[1] > 3)

    result = loadgen.run_script_until(
        stack.base_url,
        storm_lua([w.api_key for w in seeded], alerts=alerts, aliases=aliases, threads=threads),
        finished,
        connections=CONNECTIONS,
        threads=threads,
    )
    web_cpu = sum(cpu_seconds(p) for p in stack.web_worker_pids()) - cpu_before
    accepted = result.requests - result.errors
    intake_rate = _intake_rate(stack, everyone)
    quiet = [w.id for w in seeded[1:]]
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        _done, pending = _progress(stack, quiet)
        if not pending:
            break
        if any(worker.poll() is not None for worker in started_workers):
            raise RuntimeError("a worker exited")
        time.sleep(0.2)
    hostile_done, hostile_pending = _progress(stack, [seeded[0].id])
    out = {
        "alerts": alerts,
        "aliases": aliases,
        "connections": CONNECTIONS,
        "workers": workers,
        "configure_hostile_seconds": round(configure_seconds, 1),
        "accepted": accepted,
        "errors": result.errors,
        "accepted_per_second": intake_rate,
        "accept_p50_ms": round(result.p50_ms, 2),
        "accept_p99_ms": round(result.p99_ms, 2),
        "web_cpu_ms_per_accepted": round(1000 * web_cpu / max(accepted, 1), 3),
        "healthz_per_second": round(healthz.rps, 1),
        "intake_share_of_healthz": round(intake_rate / healthz.rps, 3),
        "well_behaved": _latencies(stack, quiet),
        "well_behaved_deduplication": _deduplication(stack, quiet),
        "hostile_processed_when_the_others_were_done": hostile_done,
        "hostile_pending_then": hostile_pending,
        "hostile": _latencies(stack, [seeded[0].id]),
    }
    logger.info("storm: %s", out)
    return out
