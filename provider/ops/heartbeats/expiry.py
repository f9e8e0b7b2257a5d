"""The worker's heartbeat job: expire the heartbeats that missed their interval."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from provider.ops.heartbeats import service
from provider.times import utcnow

BATCH = 50


def expire_due(
    session_factory: sessionmaker[Session], *, now: datetime | None = None, limit: int = BATCH
) -> int:
    """Expire up to ``limit`` due heartbeats in one transaction; how many were expired.

    Claiming the rows and recording their alerts commit together: a crash leaves either both
    or neither, and several workers on PostgreSQL never claim the same heartbeat.
    """
    with session_factory() as session, session.begin():
        moment = now or utcnow()
        due = service.due_heartbeats(session, moment, limit)
        for heartbeat in due:
            service.expire(session, heartbeat, moment)
        return len(due)
