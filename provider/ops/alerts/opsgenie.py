"""Opsgenie's v2 alert API on the wire: its envelopes, its alert, its queries, its error body.

The requests are the ``/v1`` bodies (they already take Opsgenie's forms); what differs is how
answers are wrapped (``{data, took, requestId}``, ``{data, paging, …}``), how an alert is shown
(``details``, ``isSeen``, ``integration``, ``report``) and how lists are paged (``limit``).
"""

from __future__ import annotations

import json
from typing import Annotated
from typing import Any
from typing import Literal

from pydantic import Field

from provider.ops.alerts import models
from provider.ops.alerts import schemas
from provider.ops.alerts.actions import ActionCommon
from provider.ops.alerts.fields import AlertQuery
from provider.ops.alerts.fields import Description
from provider.ops.alerts.models import AlertStatus
from provider.ops.alerts.models import Priority
from provider.ops.alerts.schemas import AlertListQuery
from provider.ops.alerts.schemas import RequestStatus
from provider.ops.alerts.schemas import Responder
from provider.ops.alerts.schemas import is_snoozed
from provider.schema.fields import ResponseModel
from provider.schema.fields import Timestamp
from provider.schema.query import Count

MAX_LIMIT = 100
Limit = Annotated[int, Count(1, MAX_LIMIT, message=f"must be between 1 and {MAX_LIMIT}")]


class Integration(ResponseModel):
    id: str
    name: str
    type: str


class Report(ResponseModel):
    """When and by whom the alert was acknowledged and closed; times are ms after creation."""

    ack_time: int | None = Field(default=None, exclude_if=lambda value: value is None)
    close_time: int | None = Field(default=None, exclude_if=lambda value: value is None)
    acknowledged_by: str | None = Field(default=None, exclude_if=lambda value: value is None)
    closed_by: str | None = Field(default=None, exclude_if=lambda value: value is None)


def _after_creation(row: models.Alert, when: Any) -> int | None:
    if when is None:
        return None
    return max(0, int((when - row.created_at).total_seconds() * 1000))


def _text(value: Any) -> str:
    # Opsgenie's details are text; its SDKs read them as a map of strings.
    return value if isinstance(value, str) else json.dumps(value)


class BaseAlert(ResponseModel):
    """An alert in a list, as Opsgenie shows it."""

    id: str
    tiny_id: str
    alias: str
    message: str
    status: Literal["open", "closed"]
    acknowledged: bool
    is_seen: bool
    tags: list[str]
    snoozed: bool
    snoozed_until: Timestamp | None = Field(default=None, exclude_if=lambda value: value is None)
    count: int = Field(ge=1)
    last_occurred_at: Timestamp
    created_at: Timestamp
    updated_at: Timestamp
    source: str
    owner: str
    priority: Priority
    responders: list[Responder]
    integration: Integration
    report: Report

    @classmethod
    def fields_of(cls, row: models.Alert) -> dict[str, Any]:
        snoozed = is_snoozed(row)
        return {
            "id": row.public_id,
            "tiny_id": str(row.id),
            "alias": row.alias,
            "message": row.message,
            "status": "closed" if row.status is AlertStatus.CLOSED else "open",
            "acknowledged": row.acknowledged,
            "is_seen": row.seen,
            "tags": list(row.tags or []),
            "snoozed": snoozed,
            "snoozed_until": row.snoozed_until if snoozed else None,
            "count": row.count,
            "last_occurred_at": row.last_occurred_at,
            "created_at": row.created_at,
            "updated_at": row.updated_at,
            "source": row.source,
            "owner": row.owner,
            "priority": row.priority,
            "responders": list(row.responders or []),
            "integration": Integration(
                id=row.integration_id or "",
                name=row.integration_name,
                type=row.integration_type,
            ),
            "report": Report(
                ack_time=_after_creation(row, row.acknowledged_at),
                close_time=_after_creation(row, row.closed_at),
                acknowledged_by=row.acknowledged_by,
                closed_by=row.closed_by,
            ),
        }

    @classmethod
    def of(cls, row: models.Alert) -> BaseAlert:
        return cls(**cls.fields_of(row))


class Alert(BaseAlert):
    """One alert, as Opsgenie shows it: a list's fields and its text, actions and details."""

    actions: list[str]
    entity: str
    description: str
    details: dict[str, str]

    @classmethod
    def of(cls, row: models.Alert) -> Alert:
        return cls(
            **cls.fields_of(row),
            actions=list(row.actions or []),
            entity=row.entity,
            description=row.description,
            details={k: _text(v) for k, v in (row.extra_properties or {}).items()},
        )


class AlertCount(ResponseModel):
    count: int = Field(ge=0)


class OpsgenieRequestStatus(RequestStatus):
    """The outcome of a write; ``success`` repeats ``isSuccess`` as Opsgenie's sample does."""

    success: bool

    @classmethod
    def of(cls, row: models.AlertRequest) -> OpsgenieRequestStatus:
        status = RequestStatus.of(row)
        return cls(**status.model_dump(), success=bool(status.is_success))


class Note(ResponseModel):
    note: str
    owner: str
    created_at: Timestamp
    offset: str = Field(description="Where the next page starts after this note.")


class ListQuery(AlertListQuery):
    """Opsgenie's list parameters: the page size is ``limit``."""

    size: Limit = Field(default=20, alias="limit", description="How many to return.")


class CountQuery(AlertQuery):
    query: str = Field(default="", description="The query language (docs/api.md).")


class NotesQuery(schemas.NotesQuery):
    """``offset`` is the ``offset`` of the last note already read; ``limit`` the page size."""

    size: Limit = Field(default=MAX_LIMIT, alias="limit", description="How many to return.")


class DescriptionUpdate(ActionCommon):
    """Alertmanager leaves `description` out when its template renders nothing: that clears it."""

    description: Description = ""

    def payload(self) -> dict[str, Any]:
        # Given or not, the description is what the update sets.
        return {**super().payload(), "description": self.description}
