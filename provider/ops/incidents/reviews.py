"""Post-incident reviews: created for one or more incidents, prefilled from their timelines."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.errors import Conflict
from provider.errors import NotFound
from provider.jira.schemas import MAX_DESCRIPTION
from provider.jira.schemas import MAX_ITEMS
from provider.jira.schemas import MAX_SUMMARY
from provider.jira.schemas import clip
from provider.ops.incidents import alert_source
from provider.ops.incidents import timeline as incident_timeline
from provider.ops.incidents.describe import alert_ids_of
from provider.ops.incidents.models import EventKind
from provider.ops.incidents.models import Incident
from provider.ops.incidents.models import Review
from provider.ops.incidents.models import ReviewIncident
from provider.ops.incidents.models import ReviewStatus
from provider.ops.owned import require_owned
from provider.ops.sync import linked
from provider.ops.sync import service as sync
from provider.times import iso

STATUS_ORDER = (ReviewStatus.IN_PROGRESS, ReviewStatus.OUTSTANDING_ACTIONS, ReviewStatus.COMPLETED)


def require_incidents(
    session: Session, workspace_id: int, public_ids: Sequence[str]
) -> list[Incident]:
    """The workspace's incidents with these ids, in the order given.

    :raises NotFound: naming the first id that is not one of the workspace's incidents.
    """
    wanted = list(dict.fromkeys(public_ids))
    rows = {
        i.public_id: i
        for i in session.scalars(
            select(Incident).where(
                Incident.workspace_id == workspace_id, Incident.public_id.in_(wanted)
            )
        )
    }
    for public_id in wanted:
        if public_id not in rows:
            raise NotFound(f"Incident {public_id} does not exist.", code="incident_not_found")
    return [rows[p] for p in wanted]


def require_review(session: Session, workspace_id: int, public_id: str) -> Review:
    """:raises NotFound: also for another workspace's review."""
    return require_owned(
        session, Review, workspace_id, public_id, what="Review", code="review_not_found"
    )


def incidents_of(session: Session, review: Review) -> list[Incident]:
    return list(session.scalars(linked.incidents_of(review.id)))


def _duration(delta: timedelta | None) -> str:
    if delta is None:
        return "n/a"
    seconds = max(0, int(delta.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {seconds}s" if minutes else f"{seconds}s"


def timeline(session: Session, incident: Incident) -> str:
    """One incident's facts for a review: first seen, counts, TTA, TTR, responders, notes."""
    alerts = alert_source.summaries(session, alert_ids_of(session, incident), with_notes=True)
    first_seen = min((a.created_at for a in alerts), default=incident.created_at)
    acks = [a.acknowledged_at for a in alerts if a.acknowledged_at]
    first_ack: datetime | None = min(acks) if acks else None
    people: list[str] = []
    for a in alerts:
        for name in (a.acknowledged_by, a.closed_by, a.owner, *a.responders):
            if name and name not in people:
                people.append(name)
    lines = [
        f"### {incident.summary}",
        f"- Severity: {incident.severity or 'unknown'}; status: {incident.status.value}",
        f"- First seen: {iso(first_seen)}",
        f"- Alerts: {len(alerts)} ({sum(a.count for a in alerts)} occurrences)",
        f"- Time to acknowledge: {_duration(first_ack - first_seen if first_ack else None)}",
        "- Time to resolve: "
        + _duration(incident.resolved_at - first_seen if incident.resolved_at else None),
        f"- Responders: {', '.join(people) if people else 'none recorded'}",
    ]
    notes = [(when, who, text) for a in alerts for (when, who, text) in a.notes]
    if notes:
        lines.append("- Notes:")
        lines.extend(
            f"  - {iso(when)} {who or 'someone'}: {text}" for when, who, text in sorted(notes)
        )
    return "\n".join(lines)


def prefill_description(session: Session, incidents: Sequence[Incident]) -> str:
    parts = [timeline(session, i) for i in incidents]
    parts.append("\n### What happened\n\n### Why\n\n### Actions\n")
    return clip("\n\n".join(parts), MAX_DESCRIPTION)


def _set_incidents(session: Session, review: Review, incidents: Sequence[Incident]) -> None:
    session.execute(delete(ReviewIncident).where(ReviewIncident.review_id == review.id))
    for position, incident in enumerate(incidents[:MAX_ITEMS]):
        session.add(ReviewIncident(review_id=review.id, incident_id=incident.id, position=position))
    session.flush()


def create_review(
    session: Session,
    workspace_id: int,
    incidents: Sequence[Incident],
    *,
    summary: str | None = None,
    description: str | None = None,
    status: ReviewStatus = ReviewStatus.IN_PROGRESS,
    created_by: str | None = None,
) -> Review:
    """Create a review of ``incidents`` (all of ``workspace_id``) and push it."""
    if not incidents:
        raise Conflict("A review covers at least one incident.", code="no_incidents")
    review = Review(
        workspace_id=workspace_id,
        summary=clip(summary or f"Post-incident review: {incidents[0].summary}", MAX_SUMMARY),
        description=description if description else prefill_description(session, incidents),
        status=status,
        created_by=created_by,
    )
    session.add(review)
    session.flush()
    _set_incidents(session, review, incidents)
    _on_timelines(session, review, incidents, "written")
    sync.publish(session, review)
    return review


def _on_timelines(
    session: Session, review: Review, incidents: Sequence[Incident], what: str
) -> None:
    for incident in incidents[:MAX_ITEMS]:
        incident_timeline.record(
            session,
            incident,
            EventKind.REVIEW,
            f"Post-incident review “{review.summary}” {what} ({review.status.value})",
            actor=review.created_by or "",
            detail={"review": review.public_id, "status": review.status.value},
            notify=False,
        )


def check_transition(current: ReviewStatus, new: ReviewStatus) -> None:
    """:raises Conflict: when ``new`` goes back (in progress → outstanding actions → completed)."""
    if STATUS_ORDER.index(new) < STATUS_ORDER.index(current):
        raise Conflict(
            f"A review cannot go back from {current.value!r} to {new.value!r}.",
            code="invalid_status_transition",
        )


def update_review(
    session: Session,
    review: Review,
    *,
    summary: str | None = None,
    description: str | None = None,
    status: ReviewStatus | None = None,
    incidents: Sequence[Incident] | None = None,
) -> Review:
    if status is not None:
        check_transition(review.status, status)
        review.status = status
    if summary is not None:
        review.summary = clip(summary, MAX_SUMMARY)
    if description is not None:
        review.description = description
    if incidents is not None:
        if not incidents:
            raise Conflict("A review covers at least one incident.", code="no_incidents")
        _set_incidents(session, review, incidents)
    _on_timelines(session, review, incidents_of(session, review), "saved")
    sync.publish(session, review)
    return review
