"""Heartbeats on the wire: what a create or update takes, and how a heartbeat is shown.

The fields are Opsgenie's (``intervalUnit``, ``alertMessage``, …), on ``/v1`` and ``/v2`` alike;
Opsgenie's ``ownerTeam`` is accepted and ignored, as a workspace is the team here.
"""

from __future__ import annotations

from typing import Annotated
from typing import Any
from typing import Literal

from pydantic import AfterValidator
from pydantic import Field
from pydantic import Strict
from pydantic import model_validator

from provider.ops.alerts import service as alerts
from provider.ops.heartbeats import models
from provider.ops.heartbeats.models import IntervalUnit
from provider.schema.fields import Items
from provider.schema.fields import RequestModel
from provider.schema.fields import ResponseModel
from provider.schema.fields import Text
from provider.schema.fields import Timestamp
from provider.schema.fields import predicate
from provider.schema.fields import unset
from provider.schema.pages import PageQuery

NAME_MAX = 200
DESCRIPTION_MAX = 10000
# A year of days: enough for any schedule, and far from overflowing a date.
INTERVAL_MAX = 366

Name = Annotated[
    str,
    Text(NAME_MAX, nonempty=True, printable=True),
    # The name is the heartbeat's path segment (``/v2/heartbeats/{name}/ping``).
    AfterValidator(predicate(lambda name: "/" not in name, "must not contain '/'")),
]
Interval = Annotated[int, Field(ge=1, le=INTERVAL_MAX, description="At least 1.")]
Unit = Annotated[IntervalUnit, Strict(False)]
AlertPriority = Literal["P1", "P2", "P3", "P4", "P5"]
AlertTags = Annotated[
    list[Annotated[str, Text(alerts.TAG_MAX, nonempty=True)]], Items(alerts.TAGS_MAX, unique=True)
]
Description = Annotated[str, Text(DESCRIPTION_MAX)]
# The alert an expiry opens takes these: the alert's own limits, strict here.
AlertMessage = Annotated[str, Text(alerts.MESSAGE_MAX)]
HeartbeatState = Literal["active", "waiting", "expired", "disabled"]


class HeartbeatUpdate(RequestModel):
    """At least one field; the name stays."""

    description: Description = unset()
    interval: Interval = unset()
    interval_unit: Unit = unset()
    enabled: bool = unset()
    alert_message: AlertMessage = unset()
    alert_tags: AlertTags = unset()
    alert_priority: AlertPriority = unset()

    @model_validator(mode="after")
    def _something_to_change(self) -> HeartbeatUpdate:
        if not self.model_fields_set:
            raise ValueError("Nothing to update: send at least one field.")
        return self

    def changes(self) -> dict[str, Any]:
        """The attributes given, by their model names."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class HeartbeatCreate(HeartbeatUpdate):
    name: Name = Field(description="Unique in the workspace; names it in every path.")
    description: Description = ""
    interval: Interval
    interval_unit: Unit
    enabled: bool = True
    alert_message: AlertMessage = Field(
        default="", description='The expiry alert\'s message; default "<name> is expired".'
    )
    alert_tags: AlertTags = []
    alert_priority: AlertPriority = "P3"

    def changes(self) -> dict[str, Any]:
        """Every attribute, given or default."""
        return {name: getattr(self, name) for name in type(self).model_fields}


class HeartbeatQuery(PageQuery):
    pass


def state_of(row: models.Heartbeat) -> HeartbeatState:
    """Disabled, else expired, else waiting for its first ping, else active."""
    if not row.enabled:
        return "disabled"
    if row.expired:
        return "expired"
    if row.last_ping_at is None:
        return "waiting"
    return "active"


class Heartbeat(ResponseModel):
    """A heartbeat; Opsgenie's fields, then when it expires and its state."""

    name: str
    description: str
    interval: int
    interval_unit: IntervalUnit
    enabled: bool
    expired: bool
    last_ping_time: Timestamp | None
    alert_message: str
    alert_tags: list[str]
    alert_priority: AlertPriority
    expires_at: Timestamp | None = Field(description="Without a ping by then, it expires.")
    state: HeartbeatState
    created_at: Timestamp

    @classmethod
    def of(cls, row: models.Heartbeat) -> Heartbeat:
        return cls.from_row(
            row,
            last_ping_time=row.last_ping_at,
            alert_tags=list(row.alert_tags or []),
            state=state_of(row),
        )


class HeartbeatMeta(ResponseModel):
    name: str
    enabled: bool
    expired: bool

    @classmethod
    def of(cls, row: models.Heartbeat) -> HeartbeatMeta:
        return cls(name=row.name, enabled=row.enabled, expired=row.expired)


class HeartbeatList(ResponseModel):
    heartbeats: list[Heartbeat]


class Pong(ResponseModel):
    result: Literal["PONG - Heartbeat received"] = "PONG - Heartbeat received"
    took: float = Field(ge=0, description="Seconds.")
    request_id: str
