"""Jira's side of the Operations and DevOps Components REST APIs, per simulated site.

Every request goes through the same steps, in the order a real site applies them: route,
Retry-After bookkeeping, JWT verification (signature, issuer, lifetime, qsh, scope, module),
injected faults, then the endpoint itself. Every answer is counted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl
from urllib.parse import unquote

from flask import Response
from flask import request

from jira_simulator import validation
from jira_simulator.auth import AuthFailure
from jira_simulator.auth import authenticate_forge
from jira_simulator.auth import authenticate_jwt
from jira_simulator.auth import authorize
from jira_simulator.host import Host
from jira_simulator.state import Site

logger = logging.getLogger(__name__)

OPERATIONS = "jiraOperationsInfoProvider"
COMPONENTS = "jiraDevOpsComponentProvider"
HARD_MAX_ENTITIES = 1000

Handler = Callable[["Call"], Response]


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """Jira's error body for these APIs: a JSON array of messages."""
    body = [{"message": message, "errorTraceId": uuid.uuid4().hex}]
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def accepted(body: dict[str, Any] | None = None, status: int = 202) -> Response:
    text = "" if body is None else json.dumps(body)
    return Response(text, status=status, mimetype="application/json")


@dataclass
class Call:
    """One request to a site's REST API, once routed."""

    sim: Host
    site: Site
    method: str
    path: str  # raw path relative to the site
    query: list[tuple[str, str]]
    params: dict[str, str]
    body_text: str

    def json(self) -> tuple[Any, Response | None]:
        try:
            return json.loads(self.body_text), None
        except ValueError:
            return None, error(400, "The request body is not valid JSON.")


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    name: str
    module: str
    handler: Handler


ROUTES: list[Route] = []


def route(method: str, path: str, module: str) -> Callable[[Handler], Handler]:
    regex = re.compile("^" + re.escape(path).replace(r"\{id\}", "(?P<id>[^/]+)") + "/?$")

    def register(handler: Handler) -> Handler:
        ROUTES.append(Route(method, regex, f"{method} {path}", module, handler))
        return handler

    return register


def match(method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
    """Find the route; the flag says whether the path exists for some other method."""
    other = False
    for candidate in ROUTES:
        found = candidate.pattern.match(path)
        if not found:
            continue
        if candidate.method == method:
            return candidate, {k: unquote(v) for k, v in found.groupdict().items()}, True
        other = True
    return None, {}, other


# ── the pipeline ───────────────────────────────────────────────────────────────────────────────


def _raw_target() -> tuple[str, str]:
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw:
        if "://" in raw:  # absolute-form request target
            raw = "/" + raw.split("://", 1)[1].partition("/")[2]
        path, _, query = raw.partition("?")
        return path, query
    return request.environ.get("PATH_INFO", ""), request.environ.get("QUERY_STRING", "")


def _entity_count(body_text: str) -> int:
    try:
        body = json.loads(body_text)
    except ValueError:
        return 0
    if not isinstance(body, dict):
        return 0
    return sum(
        len(body[key])
        for key in ("incidents", "reviews", "devopsComponents", "workspaceIds")
        if isinstance(body.get(key), list)
    )


def _drop_connection() -> Response:
    sock = request.environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        # Close both directions: the client sees the connection end without an answer, and the
        # server's attempt to write the response below fails quietly as a dropped connection.
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    return Response("", status=500)


def handle(sim: Host, site_name: str) -> Response:
    """Serve one request to ``/sites/<site_name>/…`` (the site's own URL: Connect JWTs)."""
    with sim.world.lock:
        site = sim.world.sites.get(site_name)
    return _serve(sim, site, "jwt", None if site is None else site.base_path)


def handle_api(sim: Host, cloud_id: str) -> Response:
    """Serve one request to ``/ex/jira/<cloud_id>/…`` (the site's apiBaseUrl: Forge's tokens)."""
    with sim.world.lock:
        site = next((s for s in sim.world.sites.values() if s.cloud_id == cloud_id), None)
    return _serve(sim, site, "forge", f"/ex/jira/{cloud_id}")


def _serve(sim: Host, site: Site | None, credential: str, base_path: str | None) -> Response:
    raw_path, raw_query = _raw_target()
    if site is None or base_path is None:
        world_counters(sim, None, "unknown site", 404)
        return error(404, "No such site.")
    if not raw_path.startswith(base_path + "/"):
        # The site's part was percent-encoded: no real client does that, and the qsh could not
        # be checked against a path the site does not recognise as its own.
        world_counters(sim, site.name, "unmatched", 404)
        return error(404, "No such resource.")
    rel_path = raw_path[len(base_path) :]
    method = request.method.upper()
    route_, path_params, exists = match(method, rel_path)
    endpoint = route_.name if route_ else f"{method} (unmatched)"
    response = _pipeline(
        sim, site, route_, path_params, exists, method, raw_path, raw_query, credential, rel_path
    )
    with sim.world.lock:
        sim.world.counters.auth(site.name, credential)
    world_counters(sim, site.name, endpoint, response.status_code)
    return response


def world_counters(sim: Host, site: str | None, endpoint: str, status: int) -> None:
    with sim.world.lock:
        sim.world.counters.request(site, endpoint, status)


def _pipeline(
    sim: Host,
    site: Site,
    route_: Route | None,
    path_params: dict[str, str],
    exists: bool,
    method: str,
    raw_path: str,
    raw_query: str,
    credential: str,
    rel_path: str,
) -> Response:
    world = sim.world
    now = time.monotonic()
    with world.lock:
        blocked = site.blocked_until - now
        if blocked > 0:
            world.counters.retry_after_violation(site.name)
    if blocked > 0 and sim.strict_retry_after:
        return error(
            429, "API rate limit has been exceeded.", {"Retry-After": str(int(blocked) + 1)}
        )

    if route_ is None:
        if exists:
            return error(405, f"{method} is not allowed here.")
        return error(404, "No such resource.")

    header = request.headers.get("Authorization", "")
    try:
        with world.lock:
            if credential == "forge":
                # Forge apps may always call the platform API (no module needed); the
                # operations and components APIs only once the site accepts their tokens.
                accepted = sim.forge.accepts_system_tokens or not route_.module
                authenticate_forge(site, header, route_.module, accepted)
            else:
                authenticate_jwt(site, method, raw_path, raw_query, header)
            authorize(site, route_.module, route_.method)
    except AuthFailure as e:
        with world.lock:
            world.counters.rejected_auth(site.name, e.reason)
        return error(e.status, e.message)

    body_text = request.get_data(as_text=True) if method in ("POST", "PUT") else ""
    decision = sim.faults.decide(site.name, method, rel_path, _entity_count(body_text))
    with world.lock:
        for kind in decision.fired:
            world.counters.fault(site.name, kind)
    if decision.delay:
        time.sleep(decision.delay)
    fault = decision.fault
    if fault is not None:
        if fault.kind == "drop":
            return _drop_connection()
        if fault.kind == "500":
            return error(500, "Internal server error.")
        if fault.kind == "413":
            return error(413, "Data is too large. Submit fewer entities in each payload.")
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
            reset = datetime.now(UTC) + timedelta(seconds=fault.retry_after)
            headers["X-RateLimit-Reset"] = reset.isoformat(timespec="seconds")
            with world.lock:
                site.blocked_until = max(site.blocked_until, time.monotonic() + fault.retry_after)
        if fault.kind == "429":
            headers["RateLimit-Reason"] = "jira-burst-based"
            return error(429, "API rate limit has been exceeded.", headers)
        return error(503, "Service is unavailable due to maintenance or other reasons.", headers)

    query = parse_qsl(raw_query, keep_blank_values=True)
    call = Call(
        sim=sim,
        site=site,
        method=method,
        path=rel_path,
        query=query,
        params={**dict(query), **path_params},
        body_text=body_text,
    )
    try:
        return route_.handler(call)
    except Exception:  # the simulator must answer like Jira would, never with a stack trace
        logger.exception("simulator endpoint %s failed", route_.name)
        return error(500, "Internal server error.")


# ── linked workspaces ──────────────────────────────────────────────────────────────────────────

WORKSPACES = "/rest/operations/1.0/linkedWorkspaces"


@route("POST", WORKSPACES + "/bulk", OPERATIONS)
def submit_workspaces(call: Call) -> Response:
    body, failure = call.json()
    if failure:
        return failure
    problems = validation.check_linked_workspaces(body)
    if problems:
        return error(400, "; ".join(problems))
    ids = list(dict.fromkeys(body["workspaceIds"]))
    with call.sim.world.lock:
        call.sim.world.counters.bulk(call.site.name, "linkedWorkspaces")
        for workspace_id in ids:
            if workspace_id not in call.site.linked_workspaces:
                call.site.linked_workspaces.append(workspace_id)
    return accepted({"acceptedWorkspaceIds": ids})


@route("DELETE", WORKSPACES + "/bulk", OPERATIONS)
def delete_workspaces(call: Call) -> Response:
    ids = [
        part
        for name, value in call.query
        if name == "workspaceIds"
        for part in value.split(",")
        if part
    ]
    if not ids or len(ids) > 100:
        return error(400, "workspaceIds must list 1 to 100 workspace ids.")
    with call.sim.world.lock:
        for workspace_id in ids:
            if workspace_id in call.site.linked_workspaces:
                call.site.linked_workspaces.remove(workspace_id)
            # The workspace's data goes with it; the provider tags every submission with
            # properties.workspaceId, which is how the simulator knows what belongs to it.
            removed = call.site.delete_by_properties(
                ("incidents", "reviews", "devopsComponents"), {"workspaceId": workspace_id}
            )
            for kind, n in removed.items():
                call.sim.world.counters.entities(call.site.name, kind, "deleted", n)
    return accepted()


@route("GET", WORKSPACES, OPERATIONS)
def get_workspaces(call: Call) -> Response:
    wanted = call.params.get("workspaceId")
    with call.sim.world.lock:
        linked = list(call.site.linked_workspaces)
    if wanted is None:
        return accepted({"workspaceIds": linked}, 200)
    if wanted not in linked:
        return error(404, f"Workspace {wanted!r} is not linked to this site.")
    return accepted({"workspaceIds": [wanted]}, 200)


# ── bulk submissions ───────────────────────────────────────────────────────────────────────────

_ISSUE_KEY = re.compile(r"^([A-Z][A-Z0-9_]*)-\d+$")


def _unknown_project_keys(site: Site, entity: dict[str, Any]) -> list[str]:
    unknown = []
    for association in entity.get("associations") or []:
        if association.get("associationType") != "issueIdOrKeys":
            continue
        for value in association.get("values") or []:
            found = _ISSUE_KEY.match(str(value))
            if found and found.group(1) not in site.projects:
                unknown.append(found.group(1))
    return unknown


def _submit(
    call: Call,
    check: Callable[[object], tuple[validation.EnvelopeResult | None, list[str]]],
    names: tuple[str, str],
    kind_hint: str,
) -> Response:
    body, failure = call.json()
    if failure:
        return failure
    limit = min(call.sim.max_entities, HARD_MAX_ENTITIES)
    count = _entity_count(call.body_text)
    if count > limit and limit < HARD_MAX_ENTITIES:
        return error(413, f"Data is too large. Submit fewer {kind_hint} in each payload.")
    envelope, problems = check(body)
    if envelope is None:
        return error(400, "; ".join(problems))
    accepted_ids: list[str] = []
    failed: dict[str, list[dict[str, str]]] = {}
    unknown: list[str] = []
    dropped = 0
    with call.sim.world.lock:
        counters = call.sim.world.counters
        counters.bulk(call.site.name, envelope.kind)
        for index, entity in enumerate(envelope.entities):
            problems = validation.check_entity(envelope.kind, entity)
            entity_id = entity.get("id") if isinstance(entity.get("id"), str) else None
            if problems:
                key = entity_id if entity_id else f"[{index}]"
                failed.setdefault(key, []).extend(
                    {"message": p, "errorTraceId": uuid.uuid4().hex} for p in problems
                )
                continue
            assert entity_id is not None  # noqa: S101 - the schema requires it
            unknown.extend(_unknown_project_keys(call.site, entity))
            if call.site.store(envelope.kind, entity, envelope.properties):
                accepted_ids.append(entity_id)
            else:
                dropped += 1
        counters.entities(call.site.name, envelope.kind, "accepted", len(accepted_ids))
        counters.entities(call.site.name, envelope.kind, "failed", len(failed))
        counters.entities(call.site.name, envelope.kind, "dropped", dropped)
    accepted_key, failed_key = names
    return accepted(
        {
            accepted_key: accepted_ids,
            failed_key: failed,
            "unknownProjectKeys": sorted(set(unknown)),
        }
    )


@route("POST", "/rest/operations/1.0/bulk", OPERATIONS)
def submit_operations(call: Call) -> Response:
    # The published response names only *Incidents fields, even for reviews; the simulator
    # answers the same way, so the app must read the result of a review submission from them.
    return _submit(
        call,
        validation.check_operations_envelope,
        ("acceptedIncidents", "failedIncidents"),
        "Incidents",
    )


@route("POST", "/rest/devopscomponents/1.0/bulk", COMPONENTS)
def submit_components(call: Call) -> Response:
    return _submit(
        call,
        validation.check_components_envelope,
        ("acceptedComponents", "failedComponents"),
        "Components",
    )


# ── deletes and reads ──────────────────────────────────────────────────────────────────────────


def _delete_by_properties(call: Call, kinds: tuple[str, ...]) -> Response:
    match_ = dict(call.query)
    if not match_:
        return error(400, "At least one property parameter is required.")
    with call.sim.world.lock:
        removed = call.site.delete_by_properties(kinds, match_)
        for kind, n in removed.items():
            call.sim.world.counters.entities(call.site.name, kind, "deleted", n)
    return accepted()


@route("DELETE", "/rest/operations/1.0/bulkByProperties", OPERATIONS)
def delete_operations_by_properties(call: Call) -> Response:
    return _delete_by_properties(call, ("incidents", "reviews"))


@route("DELETE", "/rest/devopscomponents/1.0/bulkByProperties", COMPONENTS)
def delete_components_by_properties(call: Call) -> Response:
    return _delete_by_properties(call, ("devopsComponents",))


def _get(call: Call, kind: str, label: str) -> Response:
    entity_id = call.params["id"]
    if len(entity_id) > 255:
        return error(400, "The id is longer than 255 characters.")
    with call.sim.world.lock:
        entity = call.site.entities[kind].get(entity_id)
        payload = json.dumps(entity.payload) if entity else None
    if payload is None:
        return error(404, f"{label} {entity_id!r} not found.")
    return Response(payload, status=200, mimetype="application/json")


def _delete(call: Call, kind: str) -> Response:
    entity_id = call.params["id"]
    if len(entity_id) > 255:
        return error(400, "The id is longer than 255 characters.")
    with call.sim.world.lock:
        if call.site.delete(kind, entity_id):
            call.sim.world.counters.entities(call.site.name, kind, "deleted")
    return accepted()


def _by_id(path: str, module: str, kind: str, label: str) -> None:
    route("GET", path, module)(lambda call: _get(call, kind, label))
    route("DELETE", path, module)(lambda call: _delete(call, kind))


_by_id("/rest/operations/1.0/incidents/{id}", OPERATIONS, "incidents", "Incident")
_by_id("/rest/operations/1.0/post-incident-reviews/{id}", OPERATIONS, "reviews", "Review")
_by_id(
    "/rest/devopscomponents/1.0/devopscomponents/{id}", COMPONENTS, "devopsComponents", "Component"
)
