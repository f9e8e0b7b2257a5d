"""Jira issues on a simulated site: the platform REST API the app calls, and the issue webhooks.

A site's issues follow a three-status workflow (To Do → In Progress → Done, any to any, the
transition named after the status it leads to). The app reads an issue, comments on it (the body
must be an Atlassian Document Format document) and transitions it; a person "in Jira" moves an
issue with :meth:`IssueActions.move_issue`, which sends the ``jira:issue_updated`` webhooks the
app's descriptor subscribes to, signed like every call a site makes to the app.
"""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import requests
from flask import Response

from jira_simulator.calls import AppCalls
from jira_simulator.host import SimulatorError
from jira_simulator.jira_api import Call
from jira_simulator.jira_api import route
from jira_simulator.state import STATUSES
from jira_simulator.state import Issue
from jira_simulator.state import status_json

ISSUE = "/rest/api/3/issue/{id}"
# No Connect module grants the platform API: the scopes alone do.
PLATFORM = ""
MAX_COMMENT_CHARS = 32767


def _platform_error(status: int, message: str) -> Response:
    body = {"errorMessages": [message], "errors": {}}
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _issue_of(call: Call) -> Issue | None:
    return call.site.issues.get(call.params["id"].upper())


def _missing() -> Response:
    return _platform_error(404, "Issue does not exist or you do not have permission to see it.")


def adf_problem(body: Any) -> str | None:
    """Why ``body`` is not an ADF document Jira would take, or ``None``."""
    if not isinstance(body, dict) or body.get("type") != "doc" or body.get("version") != 1:
        return "Comment body is not valid: an ADF document (type doc, version 1) is required."
    content = body.get("content")
    if not isinstance(content, list) or not all(
        isinstance(n, dict) and "type" in n for n in content
    ):
        return "Comment body is not valid: content must be a list of nodes."
    if len(json.dumps(body)) > MAX_COMMENT_CHARS:
        return "Comment body is too long."
    return None


@route("GET", ISSUE, PLATFORM)
def get_issue(call: Call) -> Response:
    with call.sim.world.lock:
        issue = _issue_of(call)
        body = (
            None if issue is None else {"id": issue.key, "key": issue.key, "fields": issue.fields()}
        )
    if body is None:
        return _missing()
    return Response(json.dumps(body), status=200, mimetype="application/json")


@route("POST", ISSUE + "/comment", PLATFORM)
def add_comment(call: Call) -> Response:
    payload, problem = call.json()
    if problem is not None:
        return problem
    adf = payload.get("body") if isinstance(payload, dict) else None
    reason = adf_problem(adf)
    if reason is not None:
        return _platform_error(400, reason)
    with call.sim.world.lock:
        issue = _issue_of(call)
        if issue is None:
            return _missing()
        issue.comments.append(copy.deepcopy(adf))  # type: ignore[arg-type]
        comment_id = str(10000 + len(issue.comments))
    return Response(json.dumps({"id": comment_id}), status=201, mimetype="application/json")


def _transitions() -> list[dict[str, Any]]:
    return [{"id": sid, "name": name, "to": status_json(name)} for sid, name, _ in STATUSES]


@route("GET", ISSUE + "/transitions", PLATFORM)
def get_transitions(call: Call) -> Response:
    with call.sim.world.lock:
        if _issue_of(call) is None:
            return _missing()
    return Response(json.dumps({"transitions": _transitions()}), mimetype="application/json")


@route("POST", ISSUE + "/transitions", PLATFORM)
def do_transition(call: Call) -> Response:
    payload, problem = call.json()
    if problem is not None:
        return problem
    transition = payload.get("transition") if isinstance(payload, dict) else None
    wanted = transition.get("id") if isinstance(transition, dict) else None
    target = next((name for sid, name, _ in STATUSES if sid == wanted), None)
    with call.sim.world.lock:
        issue = _issue_of(call)
        if issue is None:
            return _missing()
        if target is None:
            return _platform_error(400, f"Transition id '{wanted}' is not valid for this issue.")
        issue.status = target
        issue.transitions_done.append(target)
    return Response(status=204)


class IssueActions(AppCalls):
    """What a person does with issues on a simulated site; the simulator is one."""

    def add_issue(self, site: str, key: str, summary: str = "An issue") -> None:
        with self.world.lock:
            self.site(site).issues[key.upper()] = Issue(key.upper(), summary)

    def issue(self, site: str, key: str) -> dict[str, Any]:
        with self.world.lock:
            found = self.site(site).issues.get(key.upper())
            if found is None:
                raise SimulatorError(f"no issue {key} on {site!r}")
            return found.snapshot()

    def issue_webhook_body(self, site: str, key: str, before: str) -> dict[str, Any]:
        with self.world.lock:
            target = self.site(site)
            issue = target.issues[key.upper()]
            body: dict[str, Any] = {
                "timestamp": int(time.time() * 1000),
                "webhookEvent": "jira:issue_updated",
                "issue_event_type_name": "issue_generic",
                "user": {"accountId": target.account_id},
                "issue": {"id": issue.key, "key": issue.key, "fields": issue.fields()},
                "changelog": {
                    "id": str(int(time.time() * 1000)),
                    "items": [
                        {
                            "field": "status",
                            "fieldtype": "jira",
                            "from": status_json(before)["id"],
                            "fromString": before,
                            "to": status_json(issue.status)["id"],
                            "toString": issue.status,
                        }
                    ],
                },
            }
            return body

    def webhook_urls(self, site: str, event: str) -> list[str]:
        _, app, _ = self._installed(site)
        hooks = app.modules.get("webhooks")
        return [
            app.url(h["url"])
            for h in (hooks if isinstance(hooks, list) else [])
            if isinstance(h, dict) and h.get("event") == event and isinstance(h.get("url"), str)
        ]

    def move_issue(self, site: str, key: str, status: str) -> list[requests.Response]:
        """A person moves the issue in Jira; the site tells the app (one response per webhook)."""
        if status not in {name for _, name, _ in STATUSES}:
            raise SimulatorError(f"no status {status!r}")
        with self.world.lock:
            issue = self.site(site).issues[key.upper()]
            before, issue.status = issue.status, status
        body = self.issue_webhook_body(site, key, before)
        return [
            self.signed_request(site, "POST", url, json=body)
            for url in self.webhook_urls(site, "jira:issue_updated")
        ]
