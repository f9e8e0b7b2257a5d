"""Alerts on the wire: the create body, the queries of the reads, and every response.

The bodies of actions on an existing alert are in :mod:`provider.ops.alerts.actions`, the field
types all of them are built from in :mod:`provider.ops.alerts.fields`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated
from typing import Any
from typing import Literal

from pydantic import ConfigDict
from pydantic import Field
from pydantic_core import PydanticCustomError

from provider.errors import ValidationFailed
from provider.ops.alerts import models
from provider.ops.alerts.fields import EXTRA_PROPERTIES_AS_DETAILS
from provider.ops.alerts.fields import OPSGENIE_NAMES
from provider.ops.alerts.fields import RECIPIENTS_MAX
from provider.ops.alerts.fields import SOURCE_MAX
from provider.ops.alerts.fields import Actions
from provider.ops.alerts.fields import AlertBody
from provider.ops.alerts.fields import AlertQuery
from provider.ops.alerts.fields import Alias
from provider.ops.alerts.fields import Description
from provider.ops.alerts.fields import Entity
from provider.ops.alerts.fields import ExtraProperties
from provider.ops.alerts.fields import Identifier
from provider.ops.alerts.fields import IdentifierType
from provider.ops.alerts.fields import LogOrder
from provider.ops.alerts.fields import Message
from provider.ops.alerts.fields import Note
from provider.ops.alerts.fields import PriorityChoice
from provider.ops.alerts.fields import Source
from provider.ops.alerts.fields import Tags
from provider.ops.alerts.fields import User
from provider.ops.alerts.fields import details_as_extra_properties
from provider.ops.alerts.fields import document
from provider.ops.alerts.fields import named
from provider.ops.alerts.fields import normaliser
from provider.ops.alerts.fields import to_time
from provider.ops.alerts.models import AlertAction
from provider.ops.alerts.models import AlertEvent
from provider.ops.alerts.models import AlertStatus
from provider.ops.alerts.models import Priority
from provider.schema.fields import ItemsRule
from provider.schema.fields import Limits
from provider.schema.fields import ResponseModel
from provider.schema.fields import Scalar
from provider.schema.fields import Timestamp
from provider.schema.pages import PageQuery
from provider.schema.pages import WindowedPageQuery
from provider.schema.parsing import parse_model
from provider.schema.query import Flag
from provider.times import utcnow

ResponderType = Literal["team", "user", "escalation", "schedule"]
VisibleToType = Literal["team", "user"]
AlertState = Literal["open", "acked", "snoozed", "closed"]
SORT_FIELDS = (
    "createdAt",
    "insertedAt",
    "updatedAt",
    "lastOccurredAt",
    "priority",
    "count",
    "status",
    "tinyId",
    "alias",
    "message",
    "snoozedUntil",
)


class ResponderInput(AlertBody):
    """Who else should respond: a team, a user, an escalation or a schedule."""

    model_config = ConfigDict(json_schema_extra=document(OPSGENIE_NAMES, required=("type",)))

    id: Identifier
    type: ResponderType

    _opsgenie_name = normaliser(named)


class VisibleToInput(ResponderInput):
    """Who may see the alert: a team or a user."""

    type: VisibleToType


Responders = Annotated[list[ResponderInput], ItemsRule(RECIPIENTS_MAX, truncate=True, unique=True)]
VisibleTos = Annotated[list[VisibleToInput], ItemsRule(RECIPIENTS_MAX, truncate=True, unique=True)]


class AlertCreate(AlertBody):
    """A new alert, or one more occurrence of the open alert with the same alias.

    Over-long values are truncated and logged on the alert unless `strictValidation=true`;
    unknown fields are ignored.
    """

    model_config = ConfigDict(
        json_schema_extra=document({"details": EXTRA_PROPERTIES_AS_DETAILS}, required=("message",))
    )

    message: Message
    alias: Alias = Field(default="", description="The de-duplication key among open alerts.")
    description: Description = ""
    entity: Entity = ""
    source: Source = Field(default="", description="Default: the caller's address.")
    user: User = ""
    note: Note = ""
    priority: PriorityChoice = Priority.P3
    tags: Tags = []
    actions: Actions = []
    extra_properties: ExtraProperties = {}
    responders: Responders = []
    visible_to: VisibleTos = []

    _opsgenie_details = normaliser(details_as_extra_properties)

    @classmethod
    def from_json(
        cls, raw: object, *, strict: bool = False, default_source: str = ""
    ) -> AlertCreate:
        """Validate a create-alert body that did not come through the HTTP edge.

        :raises ValidationFailed: (422) naming the first bad field.
        :raises BadRequest: when the body is not a JSON object.
        """
        # Integration templates may render NUL characters, which PostgreSQL cannot store; drop
        # them rather than fail the alert later.
        return parse_model(cls, strip_nul(raw), strict=strict).from_address(default_source)

    def from_address(self, address: str) -> AlertCreate:
        """This alert, its ``source`` the caller's address when the body named none."""
        if self.source or not address:
            return self
        return self.model_copy(update={"source": address[:SOURCE_MAX]})

    def to_payload(self) -> dict[str, Any]:
        """What the create request stores for processing."""
        return {**self.model_dump(mode="json"), "truncations": self.truncations}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> AlertCreate:
        data = dict(payload)
        truncations = list(data.pop("truncations", []))
        # Stored payloads passed validation once; cutting to the limits cannot refuse them now.
        alert = cls.model_validate(data, context=Limits())
        alert._truncations = truncations
        return alert


def strip_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, Mapping):
        return {strip_nul(k): strip_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strip_nul(v) for v in value]
    return value


def parse_time(value: object, name: str) -> datetime:
    """A time given as ISO 8601 with a zone or as epoch milliseconds, outside a model.

    :raises ValidationFailed: naming ``name``.
    """
    try:
        return to_time(value)
    except PydanticCustomError as e:
        raise ValidationFailed(
            f"{name} {e.message()}", details={"source": {"pointer": f"/{name}"}}
        ) from None


class AlertListQuery(AlertQuery, WindowedPageQuery):
    """A search; ``sort`` and ``order`` are checked (in any case) by the search itself."""

    query: str = Field(default="", description="The query language (docs/api.md).")
    sort: str = Field(default="createdAt", json_schema_extra={"enum": list(SORT_FIELDS)})
    order: str = Field(default="desc", json_schema_extra={"enum": ["desc", "asc"]})
    time_from: str = Field(default="", alias="from", description="createdAt ≥ (epoch ms or ISO).")
    time_to: str = Field(default="", alias="to", description="createdAt < (epoch ms or ISO).")


class AliasQuery(AlertQuery):
    alias: Alias = Field(min_length=1)


class IdentifierQuery(AlertQuery):
    identifier_type: IdentifierType = Field(
        default="id", description="How `{identifier}` names the alert."
    )


class NotesQuery(IdentifierQuery, PageQuery):
    pass


class LogsQuery(NotesQuery):
    order: LogOrder = "asc"


class RequestStatusQuery(AlertQuery):
    include_pending: Flag = Field(
        default=False, description="Answer 200 while pending instead of 404."
    )


class Responder(ResponseModel):
    id: str
    type: ResponderType


class VisibleTo(ResponseModel):
    id: str
    type: VisibleToType


class Alert(ResponseModel):
    """An alert as JSM shows it."""

    id: str
    tiny_id: str
    created_at: Timestamp
    updated_at: Timestamp
    message: str
    entity: str
    source: str
    status: AlertState = Field(description="Derived: closed, else snoozed, else acked, else open.")
    alias: str
    tags: list[str]
    extra_properties: dict[str, Scalar]
    description: str
    acknowledged: bool
    count: int = Field(ge=1)
    owner: str
    snoozed: bool
    snoozed_until: Timestamp | None
    last_occurred_at: Timestamp
    integration_type: str
    integration_name: str
    priority: Priority
    responders: list[Responder]
    visible_to: list[VisibleTo]
    actions: list[str]
    seen: bool

    @classmethod
    def of(cls, row: models.Alert) -> Alert:
        snoozed = is_snoozed(row)
        return cls(
            id=row.public_id,
            tiny_id=str(row.id),
            created_at=row.created_at,
            updated_at=row.updated_at,
            message=row.message,
            entity=row.entity,
            source=row.source,
            status=jsm_status(row),
            alias=row.alias,
            tags=list(row.tags or []),
            extra_properties=dict(row.extra_properties or {}),
            description=row.description,
            acknowledged=row.acknowledged,
            count=row.count,
            owner=row.owner,
            snoozed=snoozed,
            snoozed_until=row.snoozed_until if snoozed else None,
            last_occurred_at=row.last_occurred_at,
            integration_type=row.integration_type,
            integration_name=row.integration_name,
            priority=row.priority,
            responders=list(row.responders or []),
            visible_to=list(row.visible_to or []),
            actions=list(row.actions or []),
            seen=row.seen,
        )


class Accepted(ResponseModel):
    """A write is recorded durably and will be processed."""

    result: Literal["Request will be processed"] = "Request will be processed"
    request_id: str = Field(description="Poll `GET /v1/alerts/requests/{requestId}`.")
    took: float = Field(ge=0, description="Seconds.")


class RequestStatus(ResponseModel):
    """The outcome of an asynchronous write."""

    action: AlertAction
    processed_at: Timestamp | None
    integration_id: str
    is_success: bool | None
    status: str
    alert_id: str
    alias: str

    @classmethod
    def of(cls, row: models.AlertRequest) -> RequestStatus:
        return cls(
            action=row.action,
            processed_at=row.processed_at,
            integration_id=row.integration_id or "",
            is_success=row.is_success,
            status=row.status_message or "Request is waiting to be processed",
            alert_id=row.alert_public_id or "",
            alias=row.alias or "",
        )


class AlertLog(ResponseModel):
    """One entry of an alert's activity log."""

    id: str
    action: AlertEvent
    log: str
    owner: str
    request_id: str | None
    created_at: Timestamp

    @classmethod
    def of(cls, row: models.AlertLog) -> AlertLog:
        return cls.from_row(row, id=str(row.id), log=row.message, owner=row.actor)


class AlertNote(ResponseModel):
    id: str
    note: str
    owner: str
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, row: models.AlertNote) -> AlertNote:
        return cls.from_row(row, id=row.public_id)


def jsm_status(alert: models.Alert, now: datetime | None = None) -> AlertState:
    """The JSM status derived from the stored state: closed > snoozed > acked > open."""
    if alert.status is AlertStatus.CLOSED:
        return "closed"
    if is_snoozed(alert, now):
        return "snoozed"
    if alert.acknowledged:
        return "acked"
    return "open"


def is_snoozed(alert: models.Alert, now: datetime | None = None) -> bool:
    # A snooze ends by itself at snoozedUntil; no job has to flip the flag back.
    return bool(
        alert.snoozed
        and alert.snoozed_until is not None
        and alert.snoozed_until > (now or utcnow())
    )


def alert_to_json(alert: models.Alert) -> dict[str, Any]:
    """The alert as the API shows it (what alert filters and outgoing webhooks see)."""
    return Alert.of(alert).model_dump(mode="json")


def request_status_to_json(req: models.AlertRequest) -> dict[str, Any]:
    return RequestStatus.of(req).model_dump(mode="json")


def log_to_json(log: models.AlertLog) -> dict[str, Any]:
    return AlertLog.of(log).model_dump(mode="json")


def note_to_json(note: models.AlertNote) -> dict[str, Any]:
    return AlertNote.of(note).model_dump(mode="json")
