"""``/v1/heartbeats``: heartbeats in the style of the rest of ``/v1``, named by their names."""

from __future__ import annotations

from flask import Blueprint

from provider.ops.access.http import api_key_required
from provider.ops.access.principal import CONFIGURE
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
from provider.ops.routes import Owned
from provider.ops.routes import Routes

bp = Blueprint("ops_heartbeats", __name__, url_prefix="/v1/heartbeats")
route = Routes(bp, TAG, writes=CONFIGURE)
HEARTBEAT = Owned("heartbeat", service.require_heartbeat, Heartbeat)


list_heartbeats = route.owned(
    "GET", "", "List heartbeats", HEARTBEAT, service.list_heartbeats, query=HeartbeatQuery
)


@route("POST", "", "Create a heartbeat", {201: Heartbeat}, body=HeartbeatCreate, errors=[409])
def create_heartbeat(body: HeartbeatCreate) -> Heartbeat:
    return Heartbeat.of(handlers.create(body))


get_heartbeat = route.owned("GET", "/<name>", "Get a heartbeat", HEARTBEAT)


@route("PATCH", "/<name>", "Update a heartbeat", {200: Heartbeat}, body=HeartbeatUpdate)
def update_heartbeat(name: str, body: HeartbeatUpdate) -> Heartbeat:
    return Heartbeat.of(handlers.update(name, body))


@route("DELETE", "/<name>", "Delete a heartbeat", {204: "Deleted"})
def delete_heartbeat(name: str) -> None:
    handlers.delete(name)


@route("POST", "/<name>/enable", "Enable a heartbeat", {200: Heartbeat})
def enable_heartbeat(name: str) -> Heartbeat:
    return Heartbeat.of(handlers.switch(name, True))


@route("POST", "/<name>/disable", "Disable a heartbeat (it never expires)", {200: Heartbeat})
def disable_heartbeat(name: str) -> Heartbeat:
    return Heartbeat.of(handlers.switch(name, False))


@bp.route("/<name>/ping", methods=PING_METHODS)
@api_key_required(WRITE)
@PING
def ping_heartbeat(name: str) -> Pong:
    return handlers.ping(name)
