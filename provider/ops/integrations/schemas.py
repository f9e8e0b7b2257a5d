"""``/v1/integrations`` bodies: what integrations and their actions take and look like.

The bodies read a null field as an absent one, as this API always has (the exceptions say so).
Rules that depend on an action's type or direction are checked with a create body, which states
them; an update body is checked against the stored action's by
:meth:`IntegrationActionUpdate.changes_for`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated
from typing import Any
from typing import ClassVar
from typing import Literal
from typing import Self
from typing import get_args

from pydantic import BeforeValidator
from pydantic import ConfigDict
from pydantic import Field
from pydantic import RootModel
from pydantic import ValidationError
from pydantic import ValidationInfo
from pydantic import field_validator
from pydantic import model_validator
from pydantic.alias_generators import to_camel

from provider.ops.integrations import models
from provider.ops.integrations.action_inputs import POST_TO_URL
from provider.ops.integrations.action_inputs import TYPE_MAX
from provider.ops.integrations.action_inputs import ActionMappingInput
from provider.ops.integrations.action_inputs import ActionProperties
from provider.ops.integrations.action_inputs import Choice
from provider.ops.integrations.action_inputs import FieldMappings
from provider.ops.integrations.action_inputs import OpenObject
from provider.ops.integrations.action_inputs import UrlCheck
from provider.ops.integrations.action_inputs import error_at
from provider.ops.integrations.action_inputs import null_as
from provider.ops.integrations.action_inputs import worded
from provider.ops.integrations.engine import KEEP_FLAG_DEFAULTS
from provider.ops.integrations.engine import IncomingType
from provider.ops.lang import filters
from provider.ops.lang.filter_schemas import FilterInput
from provider.ops.lang.filter_schemas import FilterOutput
from provider.schema.fields import RequestModel
from provider.schema.fields import ResponseModel
from provider.schema.fields import Text
from provider.schema.fields import Timestamp
from provider.schema.fields import problem
from provider.schema.fields import unset
from provider.schema.pages import PageQuery
from provider.schema.parsing import to_validation_failed

NAME_MAX = 250
TEAM_ID_MAX = 64
SHORT_MAX = 20
EXTRA_FIELD_MAX = 500
ACTION_ID_MAX = 64

Direction = Literal["incoming", "outgoing"]
DIRECTIONS: tuple[Direction, ...] = get_args(Direction)
INCOMING_TYPES = tuple(t.value for t in IncomingType)
OUTGOING_TYPES = (POST_TO_URL,)
GROUP_TYPES = ("forwarding", "updating", "checkbox")
#: The integration attributes a key's permissions come from (camelCase on the wire).
ACCESS_FLAGS = (
    "allow_read_access",
    "allow_write_access",
    "allow_delete_access",
    "allow_configuration_access",
    "suppress_notifications",
)


def _named(row: Any, *names: str) -> dict[str, Any]:
    """A row's public id, and its attributes named as the response's fields are."""
    return {"id": row.public_id, **{name: getattr(row, name) for name in names}}


class Body(RequestModel):
    """A request body in which a null field is the same as an absent one."""

    # Fields (by Python name) whose null means something else, said on each.
    NULL_KEPT: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _null_is_absent(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        dropped = {
            spelling
            for name, info in cls.model_fields.items()
            if name not in cls.NULL_KEPT
            for spelling in (name, info.alias)
        }
        return {k: v for k, v in data.items() if v is not None or k not in dropped}


# ---------------------------------------------------------------------------------------------
# Integrations


class AccessFlags(Body):
    """What requests made with the integration's key may do."""

    allow_read_access: bool | None = Field(default=None, description="Default true.")
    allow_write_access: bool | None = Field(default=None, description="Default true.")
    allow_delete_access: bool | None = Field(default=None, description="Default true.")
    allow_configuration_access: bool | None = Field(
        default=None, description="Default false: the /v1/integrations family."
    )
    suppress_notifications: bool | None = Field(default=None, description="Default false.")

    def flags(self) -> dict[str, bool]:
        """The flags sent, by attribute name."""
        return {name: value for name in ACCESS_FLAGS if (value := getattr(self, name)) is not None}


class IntegrationPropertiesInput(AccessFlags, OpenObject):
    """The access flags (as JSM clients send them) and any other property, kept as given."""

    def stored(self) -> dict[str, Any]:
        """The properties other than the access flags (those are columns of their own)."""
        return dict(self.model_extra or {})


class IntegrationCreate(AccessFlags):
    """A new integration; the access flags may also be sent at the top level (Opsgenie clients
    do), where they win over the same flags in `typeSpecificProperties`."""

    name: Annotated[str, Text(NAME_MAX, nonempty=True, printable=True)] = Field(
        description="Unique in the workspace."
    )
    type: Annotated[str, Text(TYPE_MAX)] = Field(
        default="API", description="`API`, `Email`, `Webhook`, …: it chooses the first actions."
    )
    enabled: bool = True
    team_id: Annotated[str, Text(TEAM_ID_MAX)] | None = None
    type_specific_properties: IntegrationPropertiesInput = Field(
        default_factory=IntegrationPropertiesInput
    )

    def flags(self) -> dict[str, bool]:
        inner = self.type_specific_properties
        return {**(inner.flags() if inner is not None else {}), **super().flags()}

    def attributes(self) -> dict[str, Any]:
        """The new integration's attributes."""
        return {
            "name": self.name,
            "type": self.type or "API",
            "enabled": self.enabled,
            "team_id": self.team_id,
            "properties": self.type_specific_properties.stored(),
            **self.flags(),
        }


class IntegrationUpdate(IntegrationCreate):
    """Only what is sent changes. A null `typeSpecificProperties` clears the custom ones."""

    NULL_KEPT = frozenset({"type_specific_properties"})

    name: Annotated[str, Text(NAME_MAX), Field(description="Unique in the workspace.")] = unset()
    type: Annotated[str, Text(TYPE_MAX), Field(description="Empty leaves it unchanged.")] = unset()
    enabled: bool = unset()
    team_id: Annotated[str, Text(TEAM_ID_MAX)] | None = Field(
        default=None, description="Empty clears it."
    )
    type_specific_properties: Annotated[
        IntegrationPropertiesInput, null_as(IntegrationPropertiesInput)
    ] = unset()

    def changes(self) -> dict[str, Any]:
        """The attributes to change."""
        out: dict[str, Any] = self.flags()
        if self.name is not None:
            out["name"] = self.name
        if self.type:
            out["type"] = self.type
        if self.enabled is not None:
            out["enabled"] = self.enabled
        if self.team_id is not None:
            out["team_id"] = self.team_id or None
        if self.type_specific_properties is not None:
            out["properties"] = self.type_specific_properties.stored()
        return out


class IntegrationProperties(ResponseModel):
    """The access flags and any other property as it was given."""

    model_config = ConfigDict(extra="allow", validate_by_name=False)

    allow_read_access: bool
    allow_write_access: bool
    allow_delete_access: bool
    allow_configuration_access: bool
    suppress_notifications: bool


class Integration(ResponseModel):
    """A named source of alerts with its own key."""

    id: str
    name: str
    type: str
    enabled: bool
    team_id: str | None
    advanced: bool
    maintenance_sources: list[Any]
    directions: list[Direction]
    domains: list[str]
    type_specific_properties: IntegrationProperties
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, row: models.Integration, **extra: Any) -> Self:
        flags = {to_camel(name): bool(getattr(row, name)) for name in ACCESS_FLAGS}
        return cls(
            **_named(row, "name", "type", "enabled", "team_id", "created_at", "updated_at"),
            advanced=False,
            maintenance_sources=[],
            directions=list(DIRECTIONS),
            domains=["alert"],
            type_specific_properties=IntegrationProperties.model_validate(
                {**(row.properties or {}), **flags}
            ),
            **extra,
        )


class IntegrationWithKey(Integration):
    api_key: str = Field(description="Shown once; stored hashed.")


class KeyRotation(ResponseModel):
    id: str
    api_key: str = Field(description="The new key; the old one stops working at once.")


# ---------------------------------------------------------------------------------------------
# Actions


class IntegrationActionCreate(Body):
    """A new action. A null `filter` is match-all; leaving it out is an error."""

    NULL_KEPT = frozenset({"filter"})

    direction: Annotated[str, Text(SHORT_MAX, nonempty=True), Choice(DIRECTIONS)]
    type: Annotated[str, Text(TYPE_MAX, nonempty=True)] = Field(
        json_schema_extra={"enum": [*INCOMING_TYPES, *OUTGOING_TYPES]},
        description="Incoming: ignore, create, close, acknowledge, addNote; outgoing: postToUrl.",
    )
    name: Annotated[str, Text(NAME_MAX, nonempty=True)]
    domain: Annotated[
        str, Text(SHORT_MAX, nonempty=True), Choice(("alert",), message="must be alert")
    ]
    group_type: Annotated[str, Text(SHORT_MAX), Choice(GROUP_TYPES, blank=True)] = Field(
        default="", description="Empty is forwarding for outgoing actions."
    )
    extra_field: Annotated[str, Text(EXTRA_FIELD_MAX)] = ""
    enabled: bool = True
    filter: FilterInput | None
    field_mappings: FieldMappings = Field(default_factory=FieldMappings)
    type_specific_properties: ActionProperties = Field(
        default_factory=ActionProperties,
        description="postToUrl: `url` (required) and `headers`; create: keep…FromPayload flags.",
    )
    action_mapping: ActionMappingInput | None = Field(
        default=None, description="Required for outgoing actions."
    )

    @model_validator(mode="before")
    @classmethod
    def _properties_always_checked(cls, data: Any) -> Any:
        # Absent properties are empty ones, held to the type's rules all the same.
        if isinstance(data, Mapping) and not any(
            data.get(key) is not None
            for key in ("typeSpecificProperties", "type_specific_properties")
        ):
            return {**data, "typeSpecificProperties": {}}
        return data

    @field_validator("type")
    @classmethod
    def _type_fits_the_direction(cls, kind: str, info: ValidationInfo) -> str:
        direction = info.data.get("direction")
        allowed = {"incoming": INCOMING_TYPES, "outgoing": OUTGOING_TYPES}.get(direction or "")
        if allowed is not None and kind not in allowed:
            raise problem(f"must be one of {', '.join(allowed)} for {direction} actions")
        return kind

    @field_validator("type_specific_properties")
    @classmethod
    def _properties_fit_the_type(
        cls, properties: ActionProperties, info: ValidationInfo
    ) -> ActionProperties:
        return properties.for_type(info.data.get("type", ""), info.context)

    @field_validator("action_mapping")
    @classmethod
    def _mapping_fits_the_direction(
        cls, mapping: ActionMappingInput | None, info: ValidationInfo
    ) -> ActionMappingInput | None:
        return None if mapping is None else mapping.for_direction(info.data.get("direction", ""))

    @model_validator(mode="after")
    def _outgoing_has_a_mapping(self) -> Self:
        if self.direction == "outgoing" and self.action_mapping is None:
            raise error_at(("actionMapping",), "is required for outgoing actions", None)
        return self

    def attributes(self, url_check: UrlCheck) -> dict[str, Any]:
        """The new action's attributes.

        :raises ValidationFailed: when the deployment's guard refuses a postToUrl destination.
        """
        self.type_specific_properties.check_destination(url_check)
        outgoing = self.direction == "outgoing"
        return {
            "type": self.type,
            "name": self.name,
            "domain": self.domain,
            "direction": self.direction,
            "group_type": self.group_type or ("forwarding" if outgoing else ""),
            "extra_field": self.extra_field,
            "enabled": self.enabled,
            "filter": (self.filter.to_filter() if self.filter else filters.MATCH_ALL).to_json(),
            "field_mappings": self.field_mappings.stored(),
            "type_specific_properties": self.type_specific_properties.stored(),
            "action_mapping": self.action_mapping.stored() if self.action_mapping else None,
        }


class IntegrationActionUpdate(Body):
    """Only what is sent changes; a null `name` is refused rather than ignored."""

    NULL_KEPT = frozenset({"name"})

    name: Annotated[Annotated[str, Text(NAME_MAX, nonempty=True)], null_as(str)] = unset()
    enabled: bool | None = None
    filter: FilterInput | None = Field(
        default=None, description="System conditions of the current filter must stay."
    )
    field_mappings: FieldMappings | None = None
    type_specific_properties: ActionProperties | None = Field(
        default=None, description="Held to the rules of the action's type."
    )
    action_mapping: ActionMappingInput | None = Field(
        default=None, description="Held to the rules of the action's direction."
    )

    def changes_for(self, kind: str, direction: str, url_check: UrlCheck) -> dict[str, Any]:
        """The attributes to change of an action of type ``kind`` and ``direction``.

        :raises ValidationFailed: when a part does not fit the action, or the deployment's guard
            refuses a postToUrl destination.
        """
        out: dict[str, Any] = {}
        if self.name is not None:
            out["name"] = self.name
        if self.enabled is not None:
            out["enabled"] = self.enabled
        if self.filter is not None:
            out["filter"] = self.filter.to_filter().to_json()
        if self.field_mappings is not None:
            out["field_mappings"] = self.field_mappings.stored()
        try:
            if self.type_specific_properties is not None:
                properties = self.type_specific_properties.for_type(kind)
                properties.check_destination(url_check)
                out["type_specific_properties"] = properties.stored()
        except ValidationError as e:
            raise to_validation_failed(e, prefix=("typeSpecificProperties",)) from None
        try:
            if self.action_mapping is not None:
                out["action_mapping"] = self.action_mapping.for_direction(direction).stored()
        except ValidationError as e:
            raise to_validation_failed(e, prefix=("actionMapping",)) from None
        return out


def _an_object(value: Any) -> Any:
    # A reorder has always answered a body that is not an object with 422, not 400.
    if not isinstance(value, Mapping):
        raise problem("The request body must be a JSON object.")
    return value


class Successor(RequestModel):
    successor_id: Annotated[
        Annotated[str, Text(ACTION_ID_MAX, strip=False)] | None, worded("must be an action id")
    ] = Field(
        default=None, description="The action to come right after; null, empty or absent: last."
    )


class ReorderBody(RootModel[Annotated[Successor, BeforeValidator(_an_object)]]):
    """Where to move the action: right before its new successor, or last of its type."""


class ActionQuery(PageQuery):
    type: str = Field(default="", description="Only actions of this type.")
    direction: str = Field(default="", description="Only actions of this direction.")
    domain: str = Field(default="", description="Only actions of this domain.")
    name: str = Field(default="", description="Only the action of this name.")


_SUMMARY_COLUMNS = ("name", "type", "direction", "domain", "group_type", "enabled")


class ActionMapping(ResponseModel):
    type: str | None
    parameter: dict[str, Any]


class IntegrationAction(ResponseModel):
    """An incoming action (what a payload does to alerts) or an outgoing one (postToUrl)."""

    id: str
    type: str
    name: str
    domain: str
    direction: Direction
    group_type: str
    extra_field: str
    enabled: bool
    filter: FilterOutput
    type_specific_properties: dict[str, Any] = Field(
        description="As given; create actions show the keep…FromPayload defaults."
    )
    field_mappings: dict[str, Any]
    action_mapping: ActionMapping | None = Field(
        default=None, exclude_if=lambda value: value is None, description="When one was given."
    )

    @classmethod
    def of(cls, row: models.IntegrationAction) -> IntegrationAction:
        properties = dict(row.type_specific_properties or {})
        if row.direction == "incoming" and row.type == IncomingType.CREATE:
            properties = {**KEEP_FLAG_DEFAULTS, **properties}
        return cls(
            **_named(row, *_SUMMARY_COLUMNS, "extra_field"),
            filter=FilterOutput.of(row.filter),
            type_specific_properties=properties,
            field_mappings=row.field_mappings or {},
            action_mapping=None
            if row.action_mapping is None
            else ActionMapping.model_validate(row.action_mapping),
        )


class IntegrationActionSummary(ResponseModel):
    """An action in a list."""

    id: str
    name: str
    type: str
    direction: Direction
    domain: str
    action_mapping_type: str | None
    group_type: str
    enabled: bool

    @classmethod
    def of(cls, row: models.IntegrationAction) -> IntegrationActionSummary:
        return cls(
            **_named(row, *_SUMMARY_COLUMNS),
            action_mapping_type=(row.action_mapping or {}).get("type"),
        )
