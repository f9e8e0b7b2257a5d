"""What the incident console shows: gathered once for the page and for its live refresh.

Not a blueprint: the incident page (``pages``) and the console's actions (``console``) both
render through :func:`render`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from flask import Response
from flask import url_for
from sqlalchemy.orm import Session

from provider.connect.models import Installation
from provider.ops.alerts.models import Alert
from provider.ops.incidents import timeline
from provider.ops.incidents.models import EventKind
from provider.ops.incidents.models import Incident
from provider.ops.incidents.models import IncidentStatus
from provider.ops.priority import PRIORITIES
from provider.ops.sync import linked
from provider.ops.sync.service import linked_installations
from provider.ops.workspaces.models import Workspace
from provider.times import iso
from provider.times import utcnow
from provider.web.session import page

MAX_ALERTS_SHOWN = 200
# Seconds between refreshes of an open console; a resolved incident changes rarely.
REFRESH_OPEN = 10
REFRESH_RESOLVED = 60

# The confirmations an action redirects with (``?done=``): never text taken from the URL.
DONE_MESSAGES = {
    "acknowledged": "Incident acknowledged.",
    "noted": "Note added.",
    "severity": "Severity changed.",
    "resolved": "Incident resolved.",
    "linked": "Jira issue linked.",
    "unlinked": "Jira issue unlinked.",
    "unchanged": "Nothing to change.",
}

SEVERITY_LOZENGE = {"P1": "removed", "P2": "moved", "P3": "inprogress"}
EVENT_LABEL = {
    EventKind.OPENED: "Opened",
    EventKind.ALERT_ADDED: "Alert",
    EventKind.ALERT_REPEATED: "Alert",
    EventKind.ALERT_CLOSED: "Alert",
    EventKind.ACKNOWLEDGED: "Acknowledged",
    EventKind.NOTE: "Note",
    EventKind.SEVERITY: "Severity",
    EventKind.RESOLVED: "Resolved",
    EventKind.ISSUE_LINKED: "Issue",
    EventKind.ISSUE_UNLINKED: "Issue",
    EventKind.ISSUE_EVENT: "Jira issue",
    EventKind.DELIVERY: "Jira",
    EventKind.REVIEW: "Review",
}


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """A short relative time, as Jira writes them: "just now", "5 minutes ago", "3 days ago"."""
    if value is None:
        return ""
    seconds = int(((now or utcnow()) - value).total_seconds())
    if seconds < 45:
        return "just now"
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            n = round(seconds / size) if unit != "day" else seconds // size
            return f"{n} {unit}{'' if n == 1 else 's'} ago"
    return "just now"


def exact(value: datetime | None) -> str:
    """The exact time shown on hover, in UTC, readable."""
    return value.strftime("%d %b %Y, %H:%M:%S UTC") if value else ""


@dataclass(frozen=True, slots=True)
class IssueLink:
    key: str
    sites: list[tuple[str, str]]  # (site host, URL of the issue on it)


def _issue_links(sites: list[Installation], keys: list[str]) -> list[IssueLink]:
    hosts = [(s.base_url.split("://", 1)[-1].rstrip("/"), s.base_url.rstrip("/")) for s in sites]
    return [IssueLink(k, [(h, f"{base}/browse/{k}") for h, base in hosts]) for k in keys]


def _status(incident: Incident) -> tuple[str, str]:
    if incident.status is IncidentStatus.RESOLVED:
        return "Resolved", "success"
    if incident.acknowledged_at is not None:
        return "Acknowledged", "inprogress"
    return "Open", "removed"


def context(session: Session, workspace: Workspace, incident: Incident) -> dict[str, Any]:
    components = list(session.scalars(linked.components_of(incident.id)))
    alerts = list(session.scalars(linked.alerts_of(incident.id).limit(MAX_ALERTS_SHOWN)))
    reviews = list(session.scalars(linked.reviews_of(incident.id)))
    raised_by = (
        session.get(Alert, incident.severity_alert_id) if incident.severity_alert_id else None
    )
    review_query = {"incident": incident.public_id}
    if components:
        review_query["component"] = components[0].public_id
    status_label, status_lozenge = _status(incident)
    sites = linked_installations(session, workspace.id)
    resolved = incident.status is IncidentStatus.RESOLVED
    return {
        "workspace": workspace,
        "incident": incident,
        "resolved": resolved,
        "status_label": status_label,
        "status_lozenge": status_lozenge,
        "severity_lozenge": SEVERITY_LOZENGE.get(incident.severity or "", ""),
        "severities": PRIORITIES,
        "components": components,
        "alerts": alerts,
        "raised_by": raised_by,
        "reviews": reviews,
        "issues": _issue_links(sites, list(incident.issue_keys or [])),
        "events": timeline.events(session, incident),
        "event_label": EVENT_LABEL,
        "review_url": url_for("reviews_pages.new_review") + "?" + urlencode(review_query),
        "live_url": url_for("incident_console.live", incident_id=incident.public_id),
        "refresh_seconds": REFRESH_RESOLVED if resolved else REFRESH_OPEN,
        "ago": ago,
        "exact": exact,
        "iso": iso,
    }


def render(
    session: Session,
    workspace: Workspace,
    incident: Incident,
    *,
    done: str | None = None,
    error: str | None = None,
    http_status: int = 200,
) -> Response:
    return page(
        "pages/incident.html",
        http_status=http_status,
        done=DONE_MESSAGES.get(done or ""),
        error=error,
        **context(session, workspace, incident),
    )


def render_live(session: Session, workspace: Workspace, incident: Incident) -> Response:
    """Only the parts that change, for the console's refresh."""
    return page("pages/incident_live.html", **context(session, workspace, incident))
