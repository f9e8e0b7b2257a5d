"""What the ``/v1`` and ``/v2`` heartbeat routes do alike: act on the caller's heartbeat, commit.

The routes differ only in how they wrap the answer (``/v1`` bodies, Opsgenie's envelopes).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import g
from sqlalchemy.orm import Session

from provider.db import get_session
from provider.ops.access.http import took
from provider.ops.heartbeats import service
from provider.ops.heartbeats.models import Heartbeat
from provider.ops.heartbeats.schemas import HeartbeatCreate
from provider.ops.heartbeats.schemas import HeartbeatUpdate
from provider.ops.heartbeats.schemas import Pong
from provider.schema.endpoint import endpoint

TAG = "Heartbeats"
# Opsgenie takes a ping with any of these (and HEAD, which Flask adds to GET), with any body,
# so a monitoring tool's webhook can ping it as it is.
PING_METHODS = ["GET", "POST", "PUT", "PATCH"]
PING = endpoint(
    "Ping a heartbeat (any of these methods, any body)",
    tag=TAG,
    responses={202: Pong},
    operation_id="pingHeartbeat",
)


def create(body: HeartbeatCreate) -> Heartbeat:
    session = get_session()
    heartbeat = service.create_heartbeat(session, g.workspace.id, body)
    session.commit()
    return heartbeat


def _change(name: str, apply: Callable[[Session, Heartbeat], None]) -> Heartbeat:
    """``apply`` to the caller's heartbeat ``name``, holding its row lock, then commit."""
    session = get_session()
    heartbeat = service.require_heartbeat(session, g.workspace.id, name, lock=True)
    apply(session, heartbeat)
    session.commit()
    return heartbeat


def update(name: str, body: HeartbeatUpdate) -> Heartbeat:
    return _change(name, lambda session, hb: service.update_heartbeat(session, hb, body))


def switch(name: str, enabled: bool) -> Heartbeat:
    return _change(name, lambda session, hb: service.set_enabled(session, hb, enabled))


def ping(name: str) -> Pong:
    _change(name, service.ping)
    return Pong(took=took(), request_id=g.get("request_id", ""))


def delete(name: str) -> None:
    session = get_session()
    service.delete_heartbeat(session, service.require_heartbeat(session, g.workspace.id, name))
    session.commit()
