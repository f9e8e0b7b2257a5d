"""Scenario 1: the calls Jira makes (searchContainers, fetchWorkspaces) against /healthz.

Each authenticated request carries its own pre-signed HS256 token (``qsh`` of that exact request,
``exp`` an hour away), so the server does the full verification Jira's calls get: token parsing,
the installation lookup, the secret's decryption, the signature, the claims and the qsh.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import quote
from urllib.parse import urlencode

import requests as http

from bench import loadgen
from bench.loadgen import Request
from bench.stack import SeededWorkspace
from bench.stack import Stack
from provider.connect.jwt import sign_hs256

logger = logging.getLogger(__name__)

TOKEN_LIFETIME = 3600
DISTINCT_REQUESTS = 200  # searchQuery svc-0000 … svc-0199: each matches 10 of 10,000


def signed(stack: Stack, method: str, target: str, body: Any = None) -> Request:
    token = sign_hs256(
        iss=stack.client_key,
        secret=stack.shared_secret,
        method=method,
        url=f"{stack.base_url}{target}",
        base_url=stack.base_url,
        lifetime=TOKEN_LIFETIME,
    )
    headers = {"Authorization": f"JWT {token}"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    return Request(method, target, headers, data)


def search_requests(stack: Stack, workspace: SeededWorkspace) -> list[Request]:
    """Type-ahead queries as Jira's connection manager sends them; each matches ~10 components."""
    out = []
    for n in range(DISTINCT_REQUESTS):
        query = urlencode(
            {"searchQuery": f"svc-{n:04d}", "workspaceId": workspace.public_id},
            quote_via=quote,
        )
        out.append(signed(stack, "GET", f"/containers/search?{query}"))
    return out


def fetch_requests(stack: Stack, workspaces: list[SeededWorkspace]) -> list[Request]:
    ids = [w.public_id for w in workspaces]
    return [
        signed(stack, "POST", "/workspaces/list", {"ids": ids[: 1 + n % len(ids)]})
        for n in range(DISTINCT_REQUESTS)
    ]


def check(stack: Stack, reqs: list[Request], expect: str) -> None:
    """Every request must succeed before it is measured (a benchmark of 401s proves nothing)."""
    for r in reqs[:5]:
        answer = http.request(
            r.method, stack.base_url + r.target, headers=r.headers, data=r.body, timeout=10
        )
        if answer.status_code != 200 or expect not in answer.json():
            raise RuntimeError(f"{r.method} {r.target}: {answer.status_code} {answer.text[:200]}")


def run(stack: Stack, *, duration: float, use_wrk: bool) -> dict[str, Any]:
    empty = stack.seed_workspace("Empty workspace", components=0)
    big = stack.seed_workspace("Big workspace", components=10_000)
    cases = {
        "healthz": [Request("GET", "/healthz")],
        "searchContainers (0 components)": search_requests(stack, empty),
        "searchContainers (10,000 components)": search_requests(stack, big),
        "fetchWorkspaces": fetch_requests(stack, [empty, big]),
    }
    check(stack, cases["searchContainers (10,000 components)"], "containers")
    check(stack, cases["fetchWorkspaces"], "workspaces")
    results: dict[str, Any] = {}
    for name, reqs in cases.items():
        # a short warm-up so every worker has its connections and caches
        loadgen.run(stack.base_url, reqs, duration=1, use_wrk=use_wrk)
        result = loadgen.run(stack.base_url, reqs, duration=duration, use_wrk=use_wrk)
        logger.info(
            "%s: %.0f req/s p50 %.1f ms p99 %.1f ms errors %d",
            name,
            result.rps,
            result.p50_ms,
            result.p99_ms,
            result.errors,
        )
        results[name] = result.to_json()
    return results
