"""What incident logic knows of alerts: snapshots, open checks, timelines, read through the
alerts service."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from provider.ops.alerts import service as alerts
from provider.ops.alerts.service import Alert
from provider.ops.alerts.service import AlertStatus
from provider.ops.incidents.facts import AlertFacts


def _text_details(values: Any) -> dict[str, str]:
    if not isinstance(values, dict):
        return {}
    return {str(k): v if isinstance(v, str) else str(v) for k, v in values.items()}


def facts_of(alert: Alert) -> AlertFacts:
    details = _text_details(alert.extra_properties)
    tags = tuple(t for t in (alert.tags or []) if isinstance(t, str))
    return AlertFacts(
        id=alert.id,
        public_id=alert.public_id,
        workspace_id=alert.workspace_id,
        message=alert.message,
        priority=str(alert.priority),
        created_at=alert.created_at,
        alias=alert.alias,
        entity=alert.entity or None,
        source=alert.source or None,
        description=alert.description or None,
        tags=tags,
        details=details,
        count=alert.count or 1,
        acknowledged=bool(alert.acknowledged),
        open=alert.status is AlertStatus.OPEN,
        raw={
            "message": alert.message,
            "alias": alert.alias,
            "description": alert.description,
            "entity": alert.entity,
            "source": alert.source,
            "priority": str(alert.priority),
            "tags": list(tags),
            "extraProperties": details,
            "details": details,
            "responders": list(alert.responders or []),
            "actions": list(alert.actions or []),
            "count": alert.count,
            "acknowledged": bool(alert.acknowledged),
            "owner": alert.owner,
        },
    )


def facts_by_id(session: Session, alert_id: int) -> AlertFacts | None:
    alert = alerts.alert_by_row_id(session, alert_id)
    return None if alert is None else facts_of(alert)


def any_open(session: Session, alert_ids: Sequence[int]) -> bool:
    return alerts.any_open(session, alert_ids)


@dataclass(frozen=True, slots=True)
class AlertSummary:
    """What a timeline shows of one alert."""

    public_id: str
    message: str
    priority: str
    count: int
    open: bool
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    closed_at: datetime | None
    closed_by: str | None
    owner: str
    responders: tuple[str, ...]
    notes: tuple[tuple[datetime, str, str], ...]  # (when, who, text)


def _responder_name(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in ("name", "username", "id"):
            name = value.get(key)
            if isinstance(name, str):
                return name
    return None


def summaries(
    session: Session, alert_ids: Sequence[int], *, with_notes: bool = False
) -> list[AlertSummary]:
    rows = alerts.alerts_by_row_ids(session, alert_ids)
    notes = alerts.notes_by_alert(session, alert_ids) if with_notes else {}
    out = []
    for a in rows:
        responders = tuple(n for n in (_responder_name(r) for r in a.responders or []) if n)
        out.append(
            AlertSummary(
                public_id=a.public_id,
                message=a.message,
                priority=str(a.priority),
                count=a.count or 1,
                open=a.status is AlertStatus.OPEN,
                created_at=a.created_at,
                acknowledged_at=a.acknowledged_at,
                acknowledged_by=a.acknowledged_by,
                closed_at=a.closed_at,
                closed_by=a.closed_by,
                owner=a.owner or "",
                responders=responders,
                notes=tuple((n.created_at, n.owner, n.note) for n in notes.get(a.id, [])),
            )
        )
    return out


def overview(session: Session, alert_ids: Sequence[int], *, oldest: int) -> alerts.AlertsOverview:
    return alerts.overview(session, alert_ids, oldest=oldest)


def visible_alert(session: Session, workspace_id: int, public_id: str) -> Alert | None:
    return alerts.visible_alert(session, workspace_id, public_id)
