"""Heartbeats: define, ping, expire. Functions take a session and never commit.

An expiry and the ping after it are alert requests like any other, recorded through
``provider.ops.alerts.service`` under the heartbeat's own name, so the expiry alert follows
the same processing and incident rules as an alert a monitoring tool sent.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.errors import Conflict
from provider.errors import NotFound
from provider.ops.access.principal import ApiPrincipal
from provider.ops.alerts import service as alerts
from provider.ops.heartbeats.models import Heartbeat
from provider.ops.heartbeats.schemas import HeartbeatCreate
from provider.ops.heartbeats.schemas import HeartbeatUpdate
from provider.ops.workspaces import service as workspaces
from provider.times import iso
from provider.times import utcnow

INTEGRATION_TYPE = "Heartbeat"


@dataclass(frozen=True, slots=True)
class HeartbeatSource:
    """What the alerts part records as the integration behind a heartbeat's alerts."""

    public_id: str
    name: str
    type: str = INTEGRATION_TYPE


def principal_for(session: Session, heartbeat: Heartbeat) -> ApiPrincipal:
    """The caller a heartbeat's own alert requests are made as: its workspace, by its name."""
    workspace = workspaces.require_workspace(session, str(heartbeat.workspace_id))
    return ApiPrincipal(
        workspace=workspace,
        integration=HeartbeatSource(heartbeat.public_id, heartbeat.name),
        key_id=f"heartbeat:{heartbeat.id}",
    )


def find_heartbeat(
    session: Session, workspace_id: int, name: str, *, lock: bool = False
) -> Heartbeat | None:
    query = select(Heartbeat).where(Heartbeat.workspace_id == workspace_id, Heartbeat.name == name)
    if lock:
        query = query.with_for_update()
    return session.scalars(query).first()


def require_heartbeat(
    session: Session, workspace_id: int, name: str, *, lock: bool = False
) -> Heartbeat:
    """:raises NotFound:"""
    heartbeat = find_heartbeat(session, workspace_id, name, lock=lock)
    if heartbeat is None:
        raise NotFound(f"Heartbeat {name!r} does not exist.", code="heartbeat_not_found")
    return heartbeat


def list_heartbeats(
    session: Session, workspace_id: int, *, offset: int = 0, size: int | None = None
) -> tuple[list[Heartbeat], int]:
    """A page of the workspace's heartbeats by name, and how many it has."""
    where = Heartbeat.workspace_id == workspace_id
    total = session.scalar(select(func.count()).select_from(Heartbeat).where(where)) or 0
    query = select(Heartbeat).where(where).order_by(Heartbeat.name, Heartbeat.id).offset(offset)
    if size is not None:
        query = query.limit(size)
    return list(session.scalars(query)), total


def _schedule(heartbeat: Heartbeat, now: datetime) -> None:
    # A disabled heartbeat never expires; an enabled one gets a full interval from now.
    heartbeat.expires_at = now + heartbeat.period if heartbeat.enabled else None


def create_heartbeat(session: Session, workspace_id: int, data: HeartbeatCreate) -> Heartbeat:
    """:raises Conflict: when the workspace has a heartbeat of that name."""
    if find_heartbeat(session, workspace_id, data.name) is not None:
        raise Conflict(f"Heartbeat {data.name!r} already exists.", code="heartbeat_exists")
    heartbeat = Heartbeat(workspace_id=workspace_id, **data.changes())
    _schedule(heartbeat, utcnow())
    session.add(heartbeat)
    session.flush()
    return heartbeat


def update_heartbeat(session: Session, heartbeat: Heartbeat, data: HeartbeatUpdate) -> None:
    changes = data.changes()
    for name, value in changes.items():
        setattr(heartbeat, name, value)
    if {"interval", "interval_unit", "enabled"} & changes.keys():
        _schedule(heartbeat, utcnow())
    session.flush()


def set_enabled(session: Session, heartbeat: Heartbeat, enabled: bool) -> None:
    """Enable (a full interval from now) or disable (it never expires while disabled).

    An expired heartbeat stays expired until its next ping, which closes the alert.
    """
    if heartbeat.enabled != enabled:
        heartbeat.enabled = enabled
        _schedule(heartbeat, utcnow())
        session.flush()


def delete_heartbeat(session: Session, heartbeat: Heartbeat) -> None:
    session.delete(heartbeat)
    session.flush()


def ping(session: Session, heartbeat: Heartbeat) -> None:
    """Record a ping; a pending expiry ends, and the alert it opened is closed with a note.

    The caller holds the heartbeat's row lock (``require_heartbeat(…, lock=True)``), so a ping
    and the expiry job never both act on the same expiry.
    """
    now = utcnow()
    heartbeat.last_ping_at = now
    _schedule(heartbeat, now)
    alias = heartbeat.expiry_alias
    heartbeat.expired = False
    heartbeat.expiry_alias = None
    if alias is not None:
        note = f"Heartbeat {heartbeat.name} received a ping at {iso(now)}; it is alive again."
        # Someone may have deleted the alert already: then there is nothing left to close.
        with contextlib.suppress(NotFound):
            alerts.submit_action(
                session,
                principal_for(session, heartbeat),
                alerts.AlertAction.CLOSE,
                alerts.AlertRef(alias, "alias"),
                {"note": note},
                actor=_actor(heartbeat),
            )
    session.flush()


def _actor(heartbeat: Heartbeat) -> str:
    return f"heartbeat:{heartbeat.name}"


def due_heartbeats(session: Session, now: datetime, limit: int) -> list[Heartbeat]:
    """Enabled, unexpired heartbeats past their time, locked; rows another worker holds are
    skipped (``FOR UPDATE SKIP LOCKED``), so each expiry is claimed once. SQLite serialises
    writers instead, and ignores the clause."""
    return list(
        session.scalars(
            select(Heartbeat)
            .where(
                Heartbeat.enabled.is_(True),
                Heartbeat.expired.is_(False),
                Heartbeat.expires_at <= now,
            )
            .order_by(Heartbeat.expires_at, Heartbeat.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def expire(session: Session, heartbeat: Heartbeat, now: datetime) -> None:
    """Mark ``heartbeat`` expired and record the create request of its expiry alert.

    Both happen in the caller's transaction, so the alert exists exactly when the expiry does.
    """
    heartbeat.expired = True
    heartbeat.expiry_count += 1
    alias = f"heartbeat:{heartbeat.public_id}:{heartbeat.expiry_count}"
    heartbeat.expiry_alias = alias
    last = iso(heartbeat.last_ping_at) if heartbeat.last_ping_at else "never"
    every = f"{heartbeat.interval} {heartbeat.interval_unit}"
    body = {
        "message": heartbeat.alert_message or f"{heartbeat.name} is expired",
        "alias": alias,
        "description": f"No ping from heartbeat {heartbeat.name} within {every}.",
        "entity": heartbeat.name,
        "source": INTEGRATION_TYPE,
        "priority": heartbeat.alert_priority,
        "tags": list(heartbeat.alert_tags or []),
        "extraProperties": {"heartbeat": heartbeat.name, "interval": every, "lastPingAt": last},
    }
    alerts.submit_create(
        session,
        principal_for(session, heartbeat),
        alerts.AlertCreate.from_json(body),
        actor=_actor(heartbeat),
    )
    session.flush()
