"""An incident's timeline: what happened to it, in order, and who or what did it.

Every change of an incident records an entry here in the change's transaction: alerts arriving,
repeating and closing, acknowledgements, notes, severity changes with their cause, issues linked
and unlinked, what Jira said of each delivery, events of linked Jira issues, reviews saved.
Recording an entry also tells the linked Jira issues, when the entry is one they hear of
(:mod:`provider.ops.incidents.issue_sync`). Functions take the session first and never commit.

Entries that would repeat themselves (an alert firing again, the next delivery to the same site
with the same outcome) update the latest entry instead of adding one, so an alert storm leaves
one line per alert, not one per occurrence.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.connect.models import Installation
from provider.db import new_public_id
from provider.ops.incidents import issue_sync
from provider.ops.incidents.batch import TimelineTail
from provider.ops.incidents.facts import AlertFacts
from provider.ops.incidents.models import EventKind
from provider.ops.incidents.models import Incident
from provider.ops.incidents.models import IncidentEvent
from provider.outbox.kinds import Delivered
from provider.outbox.kinds import Kind
from provider.times import utcnow

logger = logging.getLogger(__name__)

MAX_TEXT = 4000
MAX_EVENTS_SHOWN = 500

RESPONDER = "a responder"
JIRA = "Jira"


def record(
    session: Session,
    incident: Incident,
    kind: EventKind,
    text: str,
    *,
    actor: str = "",
    detail: dict[str, Any] | None = None,
    alert_id: int | None = None,
    notify: bool = True,
    flush: bool = True,
) -> IncidentEvent:
    """Add an entry; the linked issues hear of it unless ``notify`` is false. Without
    ``flush`` the entry is written with the session's next flush, and has no id until then."""
    event = IncidentEvent(
        public_id=new_public_id(),
        incident_id=incident.id,
        kind=kind,
        text=text[:MAX_TEXT],
        actor=actor[:255],
        detail=detail or {},
        alert_id=alert_id,
        at=utcnow(),
    )
    session.add(event)
    if flush:
        session.flush()
    if notify:
        issue_sync.notify(session, incident, event)
    return event


def latest(session: Session, incident: Incident) -> IncidentEvent | None:
    return session.scalars(
        select(IncidentEvent)
        .where(IncidentEvent.incident_id == incident.id)
        .order_by(IncidentEvent.id.desc())
        .limit(1)
    ).first()


def events(session: Session, incident: Incident, *, after: int = 0) -> list[IncidentEvent]:
    """The newest entries (at most ``MAX_EVENTS_SHOWN``), oldest first; ``after`` an entry id.

    An entry updated in place keeps its id, so a reader polling with ``after`` also asks for the
    latest entry again (see the console's JSON).
    """
    rows = session.scalars(
        select(IncidentEvent)
        .where(IncidentEvent.incident_id == incident.id, IncidentEvent.id > after)
        .order_by(IncidentEvent.id.desc())
        .limit(MAX_EVENTS_SHOWN)
    )
    return list(reversed(list(rows)))


# ── changes of the incident ───────────────────────────────────────────────────────────────────


def severity_changed(
    session: Session, incident: Incident, before: str | None, cause: str, *, actor: str
) -> IncidentEvent:
    after = incident.severity or "unknown"
    text = f"Severity changed from {before or 'unknown'} to {after}: {cause}"
    detail = {"from": before, "to": incident.severity, "cause": cause}
    return record(session, incident, EventKind.SEVERITY, text, actor=actor, detail=detail)


def resolved(session: Session, incident: Incident, cause: str, *, actor: str) -> IncidentEvent:
    return record(session, incident, EventKind.RESOLVED, f"Incident resolved: {cause}", actor=actor)


def issues_linked(
    session: Session, incident: Incident, keys: Sequence[str], cause: str, actor: str
) -> None:
    """Each newly linked issue gets an entry, and hears of the incident."""
    for key in keys:
        text = f"Jira issue {key} linked by {cause}"
        event = _issue_event(session, incident, EventKind.ISSUE_LINKED, key, text, actor)
        issue_sync.notify(session, incident, event, issue_keys=[key])


def issue_unlinked(session: Session, incident: Incident, key: str, *, actor: str) -> None:
    text = f"Jira issue {key} unlinked by {actor}"
    _issue_event(session, incident, EventKind.ISSUE_UNLINKED, key, text, actor)


def _issue_event(
    session: Session, incident: Incident, kind: EventKind, key: str, text: str, actor: str
) -> IncidentEvent:
    # Not told to the linked issues: a new link tells only its own issue, an old one nobody.
    return record(session, incident, kind, text, actor=actor, detail={"issue": key}, notify=False)


# ── alerts ─────────────────────────────────────────────────────────────────────────────────────


def _alert_label(alert: AlertFacts) -> str:
    return f"“{alert.message}” ({alert.priority})"


def _alert_entry(
    session: Session, incident: Incident, alert: AlertFacts, kind: EventKind, text: str
) -> IncidentEvent:
    # Written with the alert's other changes: in a storm a flush per entry, to learn an id
    # nothing needed yet, was a sixth of the worker's time.
    detail = {"count": alert.count}
    return record(
        session,
        incident,
        kind,
        text,
        actor="alert",
        alert_id=alert.id,
        detail=detail,
        flush=False,
    )


def alert_joined(
    session: Session,
    incident: Incident,
    alert: AlertFacts,
    *,
    opened: bool,
    tail: TimelineTail | None = None,
) -> None:
    """The alert became part of the incident (and opened it, when ``opened``)."""
    label = _alert_label(alert)
    if opened:
        kind, text = EventKind.OPENED, f"Incident opened by alert {label}"
    else:
        kind, text = EventKind.ALERT_ADDED, f"Alert {label} joined"
    entry = _alert_entry(session, incident, alert, kind, text)
    if tail is not None:
        tail.recorded(entry)


def alert_changed(
    session: Session, incident: Incident, alert: AlertFacts, tail: TimelineTail | None = None
) -> None:
    """An alert of the incident fired again or closed.

    An alert firing again updates its own "fired again" entry while nothing but other alerts
    firing again came after it, so alerts repeating in turn during a storm keep one line each.
    ``tail``: what a batch of alert changes read of its incidents' timelines.
    """
    tail = tail if tail is not None else TimelineTail()
    last = tail.last_entry(session, incident.id, alert.id)
    label = _alert_label(alert)
    if not alert.open:
        if last is None or last.kind is not EventKind.ALERT_CLOSED:
            tail.recorded(
                _alert_entry(
                    session, incident, alert, EventKind.ALERT_CLOSED, f"Alert {label} closed"
                )
            )
        return
    seen = int((last.detail or {}).get("count", 1)) if last is not None else 1
    if alert.count <= seen:
        return  # acknowledged, noted, retagged…: not news for the timeline
    text = f"Alert {label} fired again ({alert.count} times in all)"
    if (
        last is not None
        and last.kind is EventKind.ALERT_REPEATED
        and not tail.news_since(session, incident.id, last)
    ):
        tail.repeated(last, text, alert.count, utcnow())
        return
    tail.recorded(_alert_entry(session, incident, alert, EventKind.ALERT_REPEATED, text))


# ── deliveries (the outbox worker's observer) ──────────────────────────────────────────────────


def _site_name(installation: Installation | None) -> str:
    if installation is None:
        return "Jira"
    return installation.base_url.removeprefix("https://").removeprefix("http://").rstrip("/")


def on_delivered(session: Session, results: Sequence[Delivered]) -> None:
    """Put the final outcome of each incident and issue message on its incident's timeline."""
    for result in results:
        if result.kind == Kind.INCIDENT:
            public_id, what = result.entity_id, "incident"
        elif result.kind == Kind.ISSUE:
            parsed = issue_sync.parse_message_id(result.entity_id)
            if parsed is None:
                continue
            public_id, what = parsed[0], parsed[2]
        else:
            continue
        incident = session.scalars(select(Incident).where(Incident.public_id == public_id)).first()
        if incident is None:
            continue
        site = session.get(Installation, result.installation_id) if result.installation_id else None
        _delivery(session, incident, _site_name(site), what, result)


def _delivery(
    session: Session, incident: Incident, site: str, what: str, result: Delivered
) -> None:
    outcome = "accepted" if result.ok else "rejected"
    if what == "incident":
        text = f"Sent to {site}: {outcome}"
    else:
        text = f"Update of issue {what} on {site}: {'done' if result.ok else 'failed'}"
    if result.message:
        text += f" ({result.message})"
    detail = {"site": site, "ok": result.ok, "target": what, "times": 1}
    newest = latest(session, incident)
    if (
        newest is not None
        and newest.kind is EventKind.DELIVERY
        and (newest.detail or {}).get("site") == site
        and (newest.detail or {}).get("target") == what
        and (newest.detail or {}).get("ok") == result.ok
        and result.ok
    ):
        times = int((newest.detail or {}).get("times", 1)) + 1
        newest.detail = {**detail, "times": times}
        newest.text, newest.at = f"{text} ({times} updates)", utcnow()
        return
    record(session, incident, EventKind.DELIVERY, text, actor=JIRA, detail=detail, notify=False)
