"""What an action on an existing alert takes: its body and its query.

Every body carries ``user``, ``source`` and ``note`` (Opsgenie clients send them), and becomes
the payload its request stores for processing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ConfigDict
from pydantic import model_validator

from provider.ops.alerts.fields import EXTRA_PROPERTIES_AS_DETAILS
from provider.ops.alerts.fields import OPSGENIE_NAMES
from provider.ops.alerts.fields import ActionName
from provider.ops.alerts.fields import AlertBody
from provider.ops.alerts.fields import CommaSeparated
from provider.ops.alerts.fields import Description
from provider.ops.alerts.fields import FutureTime
from provider.ops.alerts.fields import Identifier
from provider.ops.alerts.fields import KeysToRemove
from provider.ops.alerts.fields import Message
from provider.ops.alerts.fields import NonEmptyExtraProperties
from provider.ops.alerts.fields import NonEmptyNote
from provider.ops.alerts.fields import Note
from provider.ops.alerts.fields import PriorityChoice
from provider.ops.alerts.fields import Source
from provider.ops.alerts.fields import TagsToAdd
from provider.ops.alerts.fields import TagsToRemove
from provider.ops.alerts.fields import User
from provider.ops.alerts.fields import details_as_extra_properties
from provider.ops.alerts.fields import document
from provider.ops.alerts.fields import from_query
from provider.ops.alerts.fields import lifted
from provider.ops.alerts.fields import normaliser
from provider.ops.alerts.fields import reference_object
from provider.ops.alerts.schemas import IdentifierQuery
from provider.ops.alerts.schemas import ResponderInput
from provider.schema.query import StrictValidation

RECIPIENT_KEYS = ("id", "name", "username", "type")


class ActionQuery(IdentifierQuery, StrictValidation):
    pass


class KeysQuery(ActionQuery):
    keys: CommaSeparated = []


class TagsQuery(ActionQuery):
    tags: CommaSeparated = []


class ActionCommon(AlertBody):
    """What every action may carry: who did it, where it came from, a note to add."""

    user: User = ""
    source: Source = ""
    note: Note = ""

    def payload(self) -> dict[str, Any]:
        """What the request stores for processing: what was given, by its wire name."""
        return self.model_dump(mode="json", by_alias=True, exclude_defaults=True)


class AssignBody(ActionCommon):
    """`accountId` (JSM), or Opsgenie's `{owner: {id}}` or `{owner: {username}}`."""

    model_config = ConfigDict(
        json_schema_extra=document({"owner": reference_object("id", "username")})
    )

    account_id: Identifier

    _opsgenie_owner = normaliser(lifted("owner", "accountId", ("id", "username")))


class ResponderBody(ActionCommon, ResponderInput):
    """`{id, type}` (JSM) or `{responder: {id, type}}` (Opsgenie)."""

    model_config = ConfigDict(
        json_schema_extra=document(
            {
                **OPSGENIE_NAMES,
                "responder": {"type": "object", "description": "Opsgenie's form of the fields."},
            },
            examples=({"id": "team-ops", "type": "team"},),
        )
    )

    @model_validator(mode="before")
    @classmethod
    def _opsgenie_responder(cls, data: Any) -> Any:
        wrapped = data.get("responder") if isinstance(data, Mapping) else None
        if isinstance(wrapped, Mapping):
            data = {k: v for k, v in data.items() if k not in RECIPIENT_KEYS}
            data.update((k, wrapped[k]) for k in RECIPIENT_KEYS if k in wrapped)
        return data

    def payload(self) -> dict[str, Any]:
        out = super().payload()
        out["responder"] = {"id": out.pop("id"), "type": out.pop("type")}
        return out


class ExtraPropertiesBody(ActionCommon):
    model_config = ConfigDict(
        json_schema_extra=document(
            {"details": EXTRA_PROPERTIES_AS_DETAILS},
            examples=({"extraProperties": {"region": "eu-west-1", "retries": 3}},),
        )
    )

    extra_properties: NonEmptyExtraProperties

    _opsgenie_details = normaliser(details_as_extra_properties)


class KeysBody(ActionCommon):
    """The keys may instead be given as `?keys=a,b`."""

    model_config = ConfigDict(json_schema_extra=document())

    keys: KeysToRemove

    _keys_in_query = from_query("keys")


class TagsBody(ActionCommon):
    model_config = ConfigDict(json_schema_extra={"examples": [{"tags": ["database", "eu"]}]})

    tags: TagsToAdd


class TagsRemoveBody(ActionCommon):
    """The tags may instead be given as `?tags=a,b`."""

    model_config = ConfigDict(json_schema_extra=document())

    tags: TagsToRemove

    _tags_in_query = from_query("tags")


class EscalateBody(ActionCommon):
    """`escalationId`, or Opsgenie's `{escalation: {id}}` or `{escalation: {name}}`."""

    model_config = ConfigDict(
        json_schema_extra=document({"escalation": reference_object("id", "name")})
    )

    escalation_id: Identifier

    _opsgenie_escalation = normaliser(lifted("escalation", "escalationId", ("id", "name")))


class ExecuteActionBody(ActionCommon):
    action_name: ActionName


class SnoozeBody(ActionCommon):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"endTime": "2099-01-01T00:00:00Z", "user": "ops"}]}
    )

    end_time: FutureTime


class NoteBody(ActionCommon):
    note: NonEmptyNote


class PriorityBody(ActionCommon):
    priority: PriorityChoice


class MessageBody(ActionCommon):
    message: Message


class DescriptionBody(ActionCommon):
    description: Description
