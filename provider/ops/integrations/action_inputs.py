"""The parts of an action body with rules of their own: field mappings, type-specific
properties and the action mapping.

Field mappings and type-specific properties keep unknown keys as given (JSM clients send more
than this app reads), so they read only the camelCase names of the keys they know. The rules of
the properties and of the mapping depend on the action's type or direction, which a create body
states and an update body does not: the body models call :meth:`ActionProperties.for_type` and
:meth:`ActionMappingInput.for_direction` with the type and direction they know.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated
from typing import Any
from typing import Self

from pydantic import AfterValidator
from pydantic import BeforeValidator
from pydantic import ConfigDict
from pydantic import Field
from pydantic import GetCoreSchemaHandler
from pydantic import GetJsonSchemaHandler
from pydantic import ValidationError
from pydantic import WrapValidator
from pydantic import model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import InitErrorDetails
from pydantic_core import core_schema

from provider import netguard
from provider.errors import ValidationFailed
from provider.ops.integrations.engine import RESPONDER_TYPES
from provider.ops.lang import templates
from provider.ops.priority import PRIORITIES
from provider.schema.fields import RequestModel
from provider.schema.fields import Text
from provider.schema.fields import predicate
from provider.schema.fields import problem
from provider.schema.parsing import to_validation_failed

POST_TO_URL = "postToUrl"
TYPE_MAX = 50
URL_MAX = netguard.MAX_URL_LENGTH
MAX_HEADERS = 20
# Templates an action's list and map mappings may hold: every one is rendered for each event
# the action takes, so their number is capped as their length is.
MAX_MAPPED_ITEMS = 50
MAX_PROPERTIES_CHARS = 20_000
#: Alert actions an outgoing action can be mapped to (``actionMapping.type``).
OUTGOING_TRIGGERS = (
    "create",
    "acknowledge",
    "unacknowledge",
    "close",
    "delete",
    "addNote",
    "addTags",
    "removeTags",
    "addResponder",
    "assignOwnership",
    "escalate",
    "snooze",
    "updatePriority",
    "updateMessage",
    "updateDescription",
    "addExtraProperties",
)
FIELD_MAPPINGS = "fieldMappings"

#: Checks a destination against the deployment's outbound guard.
UrlCheck = Callable[[str], None]


# ---------------------------------------------------------------------------------------------
# Field types


def worded(message: str) -> WrapValidator:
    """Any error in the value's own shape reads as ``message``: the API's wording for the field."""

    def run(value: Any, handler: Callable[[Any], Any]) -> Any:
        try:
            return handler(value)
        except ValidationError:
            raise problem(message) from None

    return WrapValidator(run)


@dataclass(frozen=True)
class Choice:
    """Text that must be one of ``values`` (or empty, with ``blank``); the document lists them.

    ``direction: Annotated[str, Text(50), Choice(DIRECTIONS)]``.
    """

    values: tuple[str, ...]
    message: str | None = None
    blank: bool = False

    @property
    def allowed(self) -> tuple[str, ...]:
        return (*self.values, "") if self.blank else self.values

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {**handler(schema), "enum": list(self.allowed)}

    def check(self, value: str) -> str:
        if value not in self.allowed:
            raise problem(self.message or f"must be one of: {', '.join(self.values)}")
        return value


def null_as(empty: Callable[[], Any]) -> BeforeValidator:
    """Null is read as the empty value (and stored so), not as "not given"."""
    return BeforeValidator(lambda value: empty() if value is None else value)


def error_at(loc: tuple[str | int, ...], message: str, value: Any) -> ValidationError:
    """A field error at ``loc`` (wire names), for rules that see more than the field itself."""
    return ValidationError.from_exception_data(
        "body", [InitErrorDetails(type=problem(message), loc=loc, input=value)]
    )


def absent() -> Any:
    """The default of an optional key of an open object: left out again when it is stored."""
    return Field(default=None, exclude_if=lambda value: value is None)


def _one_line(headers: dict[str, str]) -> bool:
    return not any("\n" in k + v or "\r" in k + v for k, v in headers.items())


# RFC 9110's token for names; a value is what http.client can put on the wire (latin-1, no
# control characters but tab, no surrounding space). Anything else would be accepted here and
# then fail in the worker on every delivery.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}")
_HEADER_VALUE = re.compile(
    r"(?:[\x21-\x7e\xa0-\xff](?:[\t\x20-\x7e\xa0-\xff]*[\x21-\x7e\xa0-\xff])?)?"
)


def _sendable(headers: dict[str, str]) -> dict[str, str]:
    for name, value in headers.items():
        if not _HEADER_NAME.fullmatch(name):
            raise problem(f"name {name[:60]!r} is not an HTTP header name (letters, digits, -)")
        if not _HEADER_VALUE.fullmatch(value):
            raise problem(
                f"{name} cannot be sent: a value is Latin-1 text without control characters "
                "or surrounding spaces (percent-encode anything else)"
            )
    return headers


def _is_keep_flag(key: str) -> bool:
    return key.startswith("keep") and key.endswith("FromPayload")


def _is_priority(value: str) -> bool:
    return "{{" in value or not value or value.upper() in PRIORITIES


KeepFlag = Annotated[bool, Field(description="Keep the payload's own values as well.")]
Headers = Annotated[
    dict[str, str],
    Field(max_length=MAX_HEADERS),
    worded(f"must be an object of at most {MAX_HEADERS} strings"),
    AfterValidator(predicate(_one_line, "must be one line each")),
    AfterValidator(_sendable),
    null_as(dict),
]
MappedText = Annotated[str, null_as(str), Field(description="A template.")]
MappedPriority = Annotated[
    str,
    AfterValidator(predicate(_is_priority, "must be P1..P5 or a template")),
    null_as(str),
    Field(description="P1..P5, or a template."),
]
MappedList = Annotated[
    list[str],
    Field(max_length=MAX_MAPPED_ITEMS),
    worded(f"must be a list of at most {MAX_MAPPED_ITEMS} strings"),
    null_as(list),
    Field(description="Templates."),
]
MappedMap = Annotated[
    dict[str, str],
    Field(max_length=MAX_MAPPED_ITEMS),
    worded(f"must be an object of at most {MAX_MAPPED_ITEMS} strings"),
    null_as(dict),
    Field(description="Templates by key."),
]


class OpenObject(RequestModel):
    """Unknown keys are kept as given; only the camelCase names of the known ones are read."""

    model_config = ConfigDict(extra="allow", validate_by_name=False)

    @model_validator(mode="after")
    def _fits(self) -> Self:
        # Measured as Python writes it, as it always has been: a bound, not a byte count.
        if len(str(self.stored())) > MAX_PROPERTIES_CHARS:
            raise problem("is too large")
        return self

    def stored(self) -> dict[str, Any]:
        """What is stored: the keys given (an absent known key stays absent) and unknown ones."""
        return self.model_dump(by_alias=True)


# ---------------------------------------------------------------------------------------------
# typeSpecificProperties


class ActionProperties(OpenObject):
    """Any properties; `keep…FromPayload` flags (create actions) must be booleans."""

    keep_tags_from_payload: KeepFlag = absent()
    keep_actions_from_payload: KeepFlag = absent()
    keep_extra_properties_from_payload: KeepFlag = absent()
    keep_responders_from_payload: KeepFlag = absent()

    @model_validator(mode="after")
    def _unknown_flags_are_booleans(self) -> Self:
        for key, value in (self.model_extra or {}).items():
            if _is_keep_flag(key) and not isinstance(value, bool):
                raise error_at((key,), "must be true or false", value)
        return self

    def for_type(self, kind: str, context: Any = None) -> ActionProperties:
        """These properties held to the rules of an action of type ``kind``."""
        if kind != POST_TO_URL or isinstance(self, PostToUrlProperties):
            return self
        return PostToUrlProperties.model_validate(self.stored(), context=context)

    def check_destination(self, url_check: UrlCheck) -> None:
        """:raises ValidationFailed: when the deployment's guard refuses the destination."""
        return  # only postToUrl actions have one


class PostToUrlProperties(ActionProperties):
    """postToUrl: where the alert is posted, and the headers sent with it."""

    url: Annotated[str, Text(URL_MAX, nonempty=True)] = Field(
        description="http(s); checked against the outbound guard when saved and when sent."
    )
    headers: Headers = Field(default_factory=dict)

    def check_destination(self, url_check: UrlCheck) -> None:
        try:
            url_check(self.url)
        except netguard.UnsafeDestination as e:
            loc = ("typeSpecificProperties", "url")
            raise to_validation_failed(error_at(loc, f"is not allowed: {e}", self.url)) from None


# ---------------------------------------------------------------------------------------------
# fieldMappings


RESPONDER_SHAPE = f"must be {{type: {'|'.join(RESPONDER_TYPES)}, id}}"


class ResponderMapping(RequestModel):
    """Who to notify: `id` (or `name`) may be a template; other keys are kept as given."""

    model_config = ConfigDict(extra="allow", validate_by_name=False)

    type: str = Field(json_schema_extra={"enum": list(RESPONDER_TYPES)})
    id: str | None = absent()
    name: str | None = absent()

    @model_validator(mode="after")
    def _known_and_named(self) -> Self:
        if self.type not in RESPONDER_TYPES or not isinstance(self.id or self.name, str):
            raise problem(RESPONDER_SHAPE)
        return self


Responders = Annotated[
    list[Annotated[ResponderMapping, worded(RESPONDER_SHAPE)]],
    Field(max_length=MAX_MAPPED_ITEMS),
    null_as(list),
    Field(description="Responders; an id or name may be a template."),
]


class FieldMappings(OpenObject):
    """The alert fields as `{{…}}` templates over the payload; checked when saved, so a template
    that cannot run is refused now rather than at ingestion. Other keys are kept as given."""

    message: MappedText = absent()
    alias: MappedText = absent()
    description: MappedText = absent()
    source: MappedText = absent()
    entity: MappedText = absent()
    user: MappedText = absent()
    note: MappedText = absent()
    priority: MappedPriority = absent()
    tags: MappedList = absent()
    actions: MappedList = absent()
    details: MappedMap = absent()
    extra_properties: MappedMap = absent()
    responders: Responders = absent()

    @model_validator(mode="after")
    def _templates_run(self) -> Self:
        for path, template in self._templates():
            problems = templates.check_template(template)
            if problems:
                # The API has always named a template's problem after a colon.
                label = FIELD_MAPPINGS + "".join(
                    f"[{p}]" if isinstance(p, int) else f".{p}" for p in path
                )
                pointer = "/".join(str(p) for p in ("", FIELD_MAPPINGS, *path))
                raise ValidationFailed(
                    f"{label}: {problems[0]}", details={"source": {"pointer": pointer}}
                )
        return self

    def _templates(self) -> list[tuple[tuple[str | int, ...], str]]:
        found: list[tuple[tuple[str | int, ...], str]] = []
        for key, value in self.stored().items():
            if key in _TEXT_MAPPINGS:
                found.append(((key,), value))
            elif key in _LIST_MAPPINGS:
                found.extend(((key, i), item) for i, item in enumerate(value))
            elif key in _MAP_MAPPINGS:
                found.extend(((key, k), item) for k, item in value.items())
        return found


_TEXT_MAPPINGS = ("message", "alias", "description", "source", "entity", "user", "note", "priority")
_LIST_MAPPINGS = ("tags", "actions")
_MAP_MAPPINGS = ("details", "extraProperties")


# ---------------------------------------------------------------------------------------------
# actionMapping


class ActionMappingInput(RequestModel):
    """The alert action an outgoing action follows, and its parameters."""

    type: Annotated[Annotated[str, Text(TYPE_MAX, strip=False)], worded("must be a string")] = (
        Field(description=f"Outgoing actions: one of {', '.join(OUTGOING_TRIGGERS)}.")
    )
    parameter: Annotated[dict[str, Any], BeforeValidator(lambda v: v or {})] = Field(
        default_factory=dict
    )

    def for_direction(self, direction: str) -> ActionMappingInput:
        """This mapping held to the rules of an action of ``direction``."""
        if direction == "outgoing" and self.type not in OUTGOING_TRIGGERS:
            raise error_at(("type",), f"must be one of: {', '.join(OUTGOING_TRIGGERS)}", self.type)
        return self

    def stored(self) -> dict[str, Any]:
        return {"type": self.type, "parameter": dict(self.parameter)}
