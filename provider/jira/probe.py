"""Does a site take this app's Forge system token on the Operations and DevOps Components APIs?

Jira documents both APIs as open only to Connect apps that declare the provider modules, and no
Forge module for them exists yet, so whether a Forge app's token passes is something only the
site can say. The probe asks it with requests that change nothing there: two reads, and two bulk
submissions that carry no entities. An answer that judges the request's content (2xx, 400, 404,
413) means the token was taken; 401 and 403 mean it was refused.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from provider.connect.http import HostClient
from provider.connect.http import JiraHttpError
from provider.connect.http import JiraNetworkError
from provider.jira.client import COMPONENTS
from provider.jira.client import OPERATIONS

PROBE_COMPONENT_ID = "forge-probe"


class Verdict(enum.StrEnum):
    ACCEPTED = "accepted"
    REFUSED = "refused"
    UNCLEAR = "unclear"


@dataclass(frozen=True, slots=True)
class Check:
    method: str
    path: str
    purpose: str
    body: Any = None


CHECKS = (
    Check("GET", f"{OPERATIONS}/linkedWorkspaces", "read linked workspaces"),
    Check("POST", f"{OPERATIONS}/bulk", "submit no incidents", {"incidents": []}),
    Check(
        "GET",
        f"{COMPONENTS}/devopscomponents/{PROBE_COMPONENT_ID}",
        "read a DevOps component",
    ),
    Check("POST", f"{COMPONENTS}/bulk", "submit no DevOps components", {"devopsComponents": []}),
)


@dataclass(frozen=True, slots=True)
class Finding:
    check: Check
    status: int | None
    verdict: Verdict
    message: str = ""


def verdict_of(status: int | None) -> Verdict:
    if status is None:
        return Verdict.UNCLEAR
    if 200 <= status < 300 or status in (400, 404, 413):
        return Verdict.ACCEPTED
    if status in (401, 403):
        return Verdict.REFUSED
    return Verdict.UNCLEAR


def probe(client: HostClient, checks: tuple[Check, ...] = CHECKS) -> list[Finding]:
    """Run each check once with ``client`` (a Forge-mode client) and say what Jira answered."""
    return [_run(client, check) for check in checks]


def _run(client: HostClient, check: Check) -> Finding:
    try:
        response = client.request(check.method, check.path, json=check.body)
    except JiraHttpError as e:
        message = "; ".join(e.messages())[:300]
        return Finding(check, e.status, verdict_of(e.status), message)
    except JiraNetworkError as e:
        return Finding(check, None, Verdict.UNCLEAR, str(e))
    return Finding(check, response.status_code, verdict_of(response.status_code))
