"""Scenario 3: alerts sent to an integration's ingestion endpoint, accepted and processed.

The integration has two incoming actions (a ``close`` for resolved payloads and the default
``create``) and the workspace a promotion rule (P1 and P2 alerts become incidents); every event
has its own alias, so each one opens a new alert, and one in five is a P1 that opens an incident
delivered to the simulator. Accepted means the 202 (the request is durable); processed means the
worker applied it, ran the rule and recorded the outcome.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import requests as http
from sqlalchemy import func
from sqlalchemy import select

from bench.stack import Stack
from provider.ops.alerts.models import AlertRequest
from provider.ops.alerts.models import RequestState
from provider.ops.incidents.models import Incident

logger = logging.getLogger(__name__)

CLOSE_ON_RESOLVED = {
    "type": "close",
    "name": "Close resolved",
    "domain": "alert",
    "direction": "incoming",
    "filter": {
        "conditionMatchType": "match-all-conditions",
        "conditions": [{"field": "message", "operation": "contains", "expectedValue": "RESOLVED"}],
    },
    "fieldMappings": {"alias": "{{alias}}"},
    "enabled": True,
}


PROMOTE_P1_P2 = {"name": "Promote P1 and P2", "minPriority": "P2", "action": "promote"}


def make_integration(stack: Stack, api_key: str) -> tuple[str, str]:
    """Create an API integration with two incoming actions and a promotion rule.

    Returns the integration's id and key.
    """
    headers = {"Authorization": f"GenieKey {api_key}"}
    rule = http.post(
        f"{stack.base_url}/v1/incident-rules", json=PROMOTE_P1_P2, headers=headers, timeout=30
    )
    if rule.status_code != 201:
        raise RuntimeError(f"cannot add the promotion rule: {rule.status_code} {rule.text}")
    answer = http.post(
        f"{stack.base_url}/v1/integrations",
        json={"name": "Bench monitoring", "type": "API"},
        headers=headers,
        timeout=30,
    )
    answer.raise_for_status()
    integration = answer.json()
    integration = integration.get("data", integration)
    action = http.post(
        f"{stack.base_url}/v1/integrations/{integration['id']}/actions",
        json=CLOSE_ON_RESOLVED,
        headers=headers,
        timeout=30,
    )
    if action.status_code >= 300:
        raise RuntimeError(f"cannot add the close action: {action.status_code} {action.text}")
    return integration["id"], integration["apiKey"]


def event_lua(integration_id: str, key: str) -> str:
    """A wrk script that sends a new alert (its own alias) with every request."""
    path = f"/v1/integrations/{integration_id}/events"
    return (
        f"""
local n = 0
local tid = 0
local counter = 1
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
function request()
  n = n + 1
  local priority = (n % 5 == 0) and "P1" or "P3"
  local body = '{{"message": "disk almost full on db-' .. n .. '", "alias": "bench-' .. tid .. '-' .. n ..
    '", "priority": "' .. priority .. '", "tags": ["bench"], "entity": "db"}}'
  return wrk.format("POST", "{path}", {{["Authorization"] = "GenieKey {key}",
    ["Content-Type"] = "application/json"}}, body)
end
"""
        + WRK_DONE
    )


WRK_DONE = r"""
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {\"requests\":%d,\"duration_us\":%d,\"status\":%d,\"connect\":%d,\"read\":%d," ..
    "\"write\":%d,\"timeout\":%d,\"p50\":%d,\"p99\":%d,\"max\":%d}\n",
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def counts(stack: Stack) -> dict[str, int]:
    with stack.db.sessions() as session:
        rows = session.execute(
            select(AlertRequest.state, func.count()).group_by(AlertRequest.state)
        ).all()
    return {str(state): n for state, n in rows}


def incidents_opened(stack: Stack) -> int:
    with stack.db.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Incident)) or 0)


def run(stack: Stack, *, duration: float, use_wrk: bool) -> dict[str, Any]:
    from bench import loadgen

    workspace = stack.seed_workspace("Ingestion", components=10)
    integration_id, key = make_integration(stack, workspace.api_key)
    probe = http.post(
        f"{stack.base_url}/v1/integrations/{integration_id}/events",
        json={"message": "probe", "alias": "probe"},
        headers={"Authorization": f"GenieKey {key}"},
        timeout=30,
    )
    if probe.status_code != 202:
        raise RuntimeError(f"ingestion probe: {probe.status_code} {probe.text}")
    worker = stack.start_worker()
    time.sleep(2)
    if use_wrk and loadgen.wrk_path():
        result = loadgen.run_script(
            stack.base_url, event_lua(integration_id, key), duration=duration
        )
    else:
        reqs = [
            loadgen.Request(
                "POST",
                f"/v1/integrations/{integration_id}/events",
                {"Authorization": f"GenieKey {key}", "Content-Type": "application/json"},
                json.dumps(
                    {
                        "message": f"disk full {n}",
                        "alias": f"bench-{n}",
                        "priority": "P1" if n % 5 == 0 else "P3",
                    }
                ).encode(),
            )
            for n in range(5000)
        ]
        result = loadgen.run(stack.base_url, reqs, duration=duration, use_wrk=False)
    sent = result.requests - result.errors + 1  # and the probe
    start_wait = time.monotonic() - result.duration_s
    deadline = time.monotonic() + 900
    while True:
        c = counts(stack)
        pending = c.get(RequestState.PENDING.value, 0)
        done = c.get(RequestState.PROCESSED.value, 0)
        if (done >= sent and not pending) or time.monotonic() > deadline:
            break
        if worker.poll() is not None:
            raise RuntimeError("the worker exited")
        time.sleep(0.1)
    processed_seconds = time.monotonic() - start_wait
    out = {
        "accepted": result.requests - result.errors,
        "errors": result.errors,
        "accepted_per_second": round((result.requests - result.errors) / result.duration_s, 1),
        "accept_p50_ms": round(result.p50_ms, 2),
        "accept_p99_ms": round(result.p99_ms, 2),
        "processed": done,
        "pending_left": pending,
        "processed_per_second_end_to_end": round(done / processed_seconds, 1),
        "seconds_until_all_processed": round(processed_seconds, 1),
        "request_states": c,
        "incidents_opened": incidents_opened(stack),
    }
    logger.info("ingestion: %s", out)
    return out
