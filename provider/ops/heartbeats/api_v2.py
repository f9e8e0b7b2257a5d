"""``/v2/heartbeats``: Opsgenie's heartbeat API, over the same heartbeats as ``/v1``."""

from __future__ import annotations

from typing import Literal

from flask import Blueprint
from flask import g

from provider.db import get_session
from provider.ops.access.http import api_key_required
from provider.ops.access.opsgenie import Data
from provider.ops.access.opsgenie import Envelope
from provider.ops.access.opsgenie import envelope
from provider.ops.access.principal import CONFIGURE
from provider.ops.access.principal import READ
from provider.ops.access.principal import WRITE
from provider.ops.heartbeats import handlers
from provider.ops.heartbeats import models
from provider.ops.heartbeats import service
from provider.ops.heartbeats.handlers import PING
from provider.ops.heartbeats.handlers import PING_METHODS
from provider.ops.heartbeats.handlers import TAG
from provider.ops.heartbeats.schemas import Heartbeat
from provider.ops.heartbeats.schemas import HeartbeatCreate
from provider.ops.heartbeats.schemas import HeartbeatList
from provider.ops.heartbeats.schemas import HeartbeatMeta
from provider.ops.heartbeats.schemas import HeartbeatUpdate
from provider.ops.heartbeats.schemas import Pong
from provider.schema.endpoint import endpoint

bp = Blueprint("ops_heartbeats_v2", __name__, url_prefix="/v2/heartbeats")


class Deleted(Envelope):
    result: Literal["Deleted"] = "Deleted"


@bp.get("")
@api_key_required(READ)
@endpoint("List heartbeats", tag=TAG, responses={200: Data[HeartbeatList]})
def list_heartbeats() -> Data[HeartbeatList]:
    rows, _total = service.list_heartbeats(get_session(), g.workspace.id)
    listed = HeartbeatList(heartbeats=[Heartbeat.of(h) for h in rows])
    return Data[HeartbeatList](data=listed, **envelope())


@bp.post("")
@api_key_required(CONFIGURE)
@endpoint(
    "Create a heartbeat",
    tag=TAG,
    body=HeartbeatCreate,
    responses={201: Data[Heartbeat]},
    errors=[409],
)
def create_heartbeat(body: HeartbeatCreate) -> Data[Heartbeat]:
    return Data[Heartbeat](data=Heartbeat.of(handlers.create(body)), **envelope())


@bp.get("/<name>")
@api_key_required(READ)
@endpoint("Get a heartbeat", tag=TAG, responses={200: Data[Heartbeat]})
def get_heartbeat(name: str) -> Data[Heartbeat]:
    heartbeat = service.require_heartbeat(get_session(), g.workspace.id, name)
    return Data[Heartbeat](data=Heartbeat.of(heartbeat), **envelope())


def _meta(heartbeat: models.Heartbeat) -> Data[HeartbeatMeta]:
    return Data[HeartbeatMeta](data=HeartbeatMeta.of(heartbeat), **envelope())


@bp.patch("/<name>")
@api_key_required(CONFIGURE)
@endpoint("Update a heartbeat", tag=TAG, body=HeartbeatUpdate, responses={200: Data[HeartbeatMeta]})
def update_heartbeat(name: str, body: HeartbeatUpdate) -> Data[HeartbeatMeta]:
    return _meta(handlers.update(name, body))


@bp.delete("/<name>")
@api_key_required(CONFIGURE)
@endpoint("Delete a heartbeat", tag=TAG, responses={200: Deleted})
def delete_heartbeat(name: str) -> Deleted:
    handlers.delete(name)
    return Deleted(**envelope())


@bp.post("/<name>/enable")
@api_key_required(CONFIGURE)
@endpoint("Enable a heartbeat", tag=TAG, responses={200: Data[HeartbeatMeta]})
def enable_heartbeat(name: str) -> Data[HeartbeatMeta]:
    return _meta(handlers.switch(name, True))


@bp.post("/<name>/disable")
@api_key_required(CONFIGURE)
@endpoint("Disable a heartbeat", tag=TAG, responses={200: Data[HeartbeatMeta]})
def disable_heartbeat(name: str) -> Data[HeartbeatMeta]:
    return _meta(handlers.switch(name, False))


@bp.route("/<name>/ping", methods=PING_METHODS)
@api_key_required(WRITE)
@PING
def ping_heartbeat(name: str) -> Pong:
    return handlers.ping(name)
