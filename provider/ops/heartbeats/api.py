"""``/v1/heartbeats``: heartbeats in the style of the rest of ``/v1``, named by their names."""

from __future__ import annotations

from flask import Blueprint
from flask import g

from provider.db import get_session
from provider.ops.access.http import api_key_required
from provider.ops.access.principal import CONFIGURE
from provider.ops.access.principal import READ
from provider.ops.access.principal import WRITE
from provider.ops.heartbeats import handlers
from provider.ops.heartbeats import service
from provider.ops.heartbeats.handlers import PING
from provider.ops.heartbeats.handlers import PING_METHODS
from provider.ops.heartbeats.handlers import TAG
from provider.ops.heartbeats.schemas import Heartbeat
from provider.ops.heartbeats.schemas import HeartbeatCreate
from provider.ops.heartbeats.schemas import HeartbeatQuery
from provider.ops.heartbeats.schemas import HeartbeatUpdate
from provider.ops.heartbeats.schemas import Pong
from provider.schema.endpoint import endpoint
from provider.schema.pages import Page
from provider.schema.pages import page_of

bp = Blueprint("ops_heartbeats", __name__, url_prefix="/v1/heartbeats")


@bp.get("")
@api_key_required(READ)
@endpoint("List heartbeats", tag=TAG, query=HeartbeatQuery, responses={200: Page[Heartbeat]})
def list_heartbeats(query: HeartbeatQuery) -> Page[Heartbeat]:
    rows, total = service.list_heartbeats(
        get_session(), g.workspace.id, offset=query.offset, size=query.size
    )
    return Page[Heartbeat](**page_of([Heartbeat.of(h) for h in rows], total, query))


@bp.post("")
@api_key_required(CONFIGURE)
@endpoint(
    "Create a heartbeat", tag=TAG, body=HeartbeatCreate, responses={201: Heartbeat}, errors=[409]
)
def create_heartbeat(body: HeartbeatCreate) -> Heartbeat:
    return Heartbeat.of(handlers.create(body))


@bp.get("/<name>")
@api_key_required(READ)
@endpoint("Get a heartbeat", tag=TAG, responses={200: Heartbeat})
def get_heartbeat(name: str) -> Heartbeat:
    return Heartbeat.of(service.require_heartbeat(get_session(), g.workspace.id, name))


@bp.patch("/<name>")
@api_key_required(CONFIGURE)
@endpoint("Update a heartbeat", tag=TAG, body=HeartbeatUpdate, responses={200: Heartbeat})
def update_heartbeat(name: str, body: HeartbeatUpdate) -> Heartbeat:
    return Heartbeat.of(handlers.update(name, body))


@bp.delete("/<name>")
@api_key_required(CONFIGURE)
@endpoint("Delete a heartbeat", tag=TAG, responses={204: "Deleted"})
def delete_heartbeat(name: str) -> None:
    handlers.delete(name)


@bp.post("/<name>/enable")
@api_key_required(CONFIGURE)
@endpoint("Enable a heartbeat", tag=TAG, responses={200: Heartbeat})
def enable_heartbeat(name: str) -> Heartbeat:
    return Heartbeat.of(handlers.switch(name, True))


@bp.post("/<name>/disable")
@api_key_required(CONFIGURE)
@endpoint("Disable a heartbeat (it never expires)", tag=TAG, responses={200: Heartbeat})
def disable_heartbeat(name: str) -> Heartbeat:
    return Heartbeat.of(handlers.switch(name, False))


@bp.route("/<name>/ping", methods=PING_METHODS)
@api_key_required(WRITE)
@PING
def ping_heartbeat(name: str) -> Pong:
    return handlers.ping(name)
