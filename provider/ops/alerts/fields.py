"""The field types alert bodies are built from: limits, truncation, times, Opsgenie's variants.

Limits follow the JSM operations / Opsgenie field limits, and a limit written here is the limit
of every body that has the field. Over-long text and extra list items are truncated (and the
truncation noted) so monitoring tools are never rejected; ``strictValidation=true`` makes each
such case a 422 instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Annotated
from typing import Any
from typing import Literal
from typing import cast

from pydantic import AfterValidator
from pydantic import BeforeValidator
from pydantic import Field
from pydantic import GetCoreSchemaHandler
from pydantic import GetJsonSchemaHandler
from pydantic import Strict
from pydantic import ValidationInfo
from pydantic import WithJsonSchema
from pydantic import model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from provider.ops.alerts.models import Priority
from provider.schema.fields import Items
from provider.schema.fields import Limits
from provider.schema.fields import RequestModel
from provider.schema.fields import ScalarRule
from provider.schema.fields import Text
from provider.schema.fields import predicate
from provider.schema.fields import problem
from provider.schema.fields import query_of
from provider.schema.fields import wire_name
from provider.schema.query import QueryModel
from provider.times import utcnow

MESSAGE_MAX = 130
ALIAS_MAX = 512
DESCRIPTION_MAX = 15000
ENTITY_MAX = 512
SOURCE_MAX = 100
USER_MAX = 100
NOTE_MAX = 25000
TAGS_MAX = 20
TAG_MAX = 50
ACTIONS_MAX = 10
ACTION_MAX = 50
EXTRA_PROPERTIES_MAX_CHARS = 8000
EXTRA_PROPERTY_KEY_MAX = 128
RECIPIENTS_MAX = 50
IDENTIFIER_MAX = 255
REMOVALS_MAX = 100

Message = Annotated[str, Text(MESSAGE_MAX, truncate=True, ellipsis=True, nonempty=True)]
Description = Annotated[str, Text(DESCRIPTION_MAX, truncate=True, ellipsis=True, strip=False)]
Entity = Annotated[str, Text(ENTITY_MAX, truncate=True)]
Source = Annotated[str, Text(SOURCE_MAX, truncate=True)]
User = Annotated[str, Text(USER_MAX, truncate=True)]
Note = Annotated[str, Text(NOTE_MAX, truncate=True, strip=False)]
NonEmptyNote = Annotated[str, Text(NOTE_MAX, truncate=True, strip=False, nonempty=True)]
# An alias is the de-duplication key: cutting it would merge distinct alerts, so an over-long
# alias is always an error.
Alias = Annotated[str, Text(ALIAS_MAX)]
Identifier = Annotated[str, Text(IDENTIFIER_MAX, nonempty=True)]
ActionName = Annotated[str, Text(ACTION_MAX, nonempty=True)]
PriorityChoice = Annotated[Priority, Strict(False)]
Tags = Annotated[
    list[Annotated[str, Text(TAG_MAX, truncate=True)]], Items(TAGS_MAX, truncate=True, unique=True)
]
Actions = Annotated[
    list[Annotated[str, Text(ACTION_MAX, truncate=True)]],
    Items(ACTIONS_MAX, truncate=True, unique=True),
]


# The tags or keys an action adds or removes: a non-empty list, checked, never cut.
_NOT_EMPTY = AfterValidator(predicate(bool, "must not be empty"))
_AT_LEAST_ONE = Field(json_schema_extra={"minItems": 1})
TagsToAdd = Annotated[
    list[Annotated[str, Text(TAG_MAX)]], Items(TAGS_MAX, unique=True), _NOT_EMPTY, _AT_LEAST_ONE
]
TagsToRemove = Annotated[
    list[Annotated[str, Text(TAG_MAX)]], Items(REMOVALS_MAX, unique=True), _NOT_EMPTY, _AT_LEAST_ONE
]
KeysToRemove = Annotated[
    list[Annotated[str, Text(EXTRA_PROPERTY_KEY_MAX)]],
    Items(REMOVALS_MAX, unique=True),
    _NOT_EMPTY,
    _AT_LEAST_ONE,
]


def property_size(key: str, value: Any) -> int:
    """What one extra property counts towards the limit in total: its key and its JSON value."""
    return len(key) + len(json.dumps(value))


def extra_properties_size(properties: Mapping[str, Any]) -> int:
    return sum(property_size(key, value) for key, value in properties.items())


@dataclass(frozen=True, slots=True)
class ExtraPropertiesRule:
    """Scalar values under keys of bounded length, and a bounded size in all.

    Keys past the total are dropped (and the drop noted) rather than refusing a monitoring
    tool's alert, unless the request is strict.
    """

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.with_info_plain_validator_function(
            self.check, json_schema_input_schema=core_schema.dict_schema()
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "type": "object",
            "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
            "propertyNames": {"minLength": 1, "maxLength": EXTRA_PROPERTY_KEY_MAX},
            "x-truncatedAt": EXTRA_PROPERTIES_MAX_CHARS,
            "description": (
                f"At most {EXTRA_PROPERTIES_MAX_CHARS} characters in total (keys and JSON "
                "values); the keys beyond are dropped (a 422 with `strictValidation=true`)."
            ),
        }

    @staticmethod
    def check(value: Any, info: ValidationInfo) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise problem("must be an object")
        out: dict[str, Any] = {}
        size = 0
        for key, item in value.items():
            if not isinstance(key, str) or not 1 <= len(key) <= EXTRA_PROPERTY_KEY_MAX:
                raise problem(f"keys must be 1 to {EXTRA_PROPERTY_KEY_MAX} characters")
            ScalarRule.check(item)
            size += property_size(key, item)
            if size > EXTRA_PROPERTIES_MAX_CHARS:
                limits = info.context if isinstance(info.context, Limits) else None
                if limits is None or limits.strict:
                    raise problem(
                        f"must be at most {EXTRA_PROPERTIES_MAX_CHARS} characters in total"
                    )
                limits.notes.append(
                    f"{wire_name(info)}: keys beyond {EXTRA_PROPERTIES_MAX_CHARS} characters "
                    "in total dropped"
                )
                break
            out[key] = item
        return out


ExtraProperties = Annotated[dict[str, Any], ExtraPropertiesRule()]
NonEmptyExtraProperties = Annotated[
    ExtraProperties,
    AfterValidator(predicate(bool, "must not be empty")),
    Field(json_schema_extra={"minProperties": 1}),
]

BAD_TIME = "must be an ISO 8601 date-time or epoch milliseconds"


def to_time(value: object) -> datetime:
    """ISO 8601 with a zone (``Z`` allowed) or epoch milliseconds, as an aware UTC time."""
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            raise problem(BAD_TIME) from None
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit() and len(text) <= 15:
            return to_time(int(text))
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise problem(BAD_TIME) from None
        if parsed.tzinfo is None:
            raise problem("must include a time zone (e.g. 2024-01-05T07:06:47Z)")
        return parsed.astimezone(UTC)
    raise problem(BAD_TIME)


def _in_future(end: datetime) -> bool:
    return end > utcnow()


FutureTime = Annotated[
    datetime,
    BeforeValidator(to_time),
    AfterValidator(predicate(_in_future, "must be in the future")),
    WithJsonSchema(
        {
            "description": "In the future: ISO 8601 with a zone (`Z` or an offset), or epoch ms.",
            "oneOf": [{"type": "string", "format": "date-time"}, {"type": "integer"}],
        }
    ),
]


def _folded(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


IdentifierType = Annotated[Literal["id", "alias", "tiny"], BeforeValidator(_folded)]
LogOrder = Annotated[Literal["asc", "desc"], BeforeValidator(_folded)]


def _comma_separated(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


CommaSeparated = Annotated[
    list[str],
    BeforeValidator(_comma_separated),
    WithJsonSchema({"type": "string", "description": "Comma-separated, instead of the body."}),
]


def document(
    also: Mapping[str, JsonSchemaValue] | None = None,
    *,
    required: tuple[str, ...] = (),
    examples: tuple[Any, ...] = (),
) -> Callable[[dict[str, Any]], None]:
    """A ``json_schema_extra`` for what a normaliser also takes, which the fields do not show.

    The body's ``required`` is replaced, as an alternative form may stand for a required field.
    """

    def extra(schema: dict[str, Any]) -> None:
        schema["properties"].update(also or {})
        schema.pop("required", None)
        if required:
            schema["required"] = list(required)
        if examples:
            schema["examples"] = list(examples)

    return extra


OPSGENIE_NAMES: dict[str, JsonSchemaValue] = {
    "name": {"type": "string", "maxLength": IDENTIFIER_MAX, "description": "Instead of `id`."},
    "username": {"type": "string", "maxLength": IDENTIFIER_MAX, "description": "Instead of `id`."},
}
EXTRA_PROPERTIES_AS_DETAILS: JsonSchemaValue = {
    "type": "object",
    "description": "Opsgenie's name for `extraProperties`, used when that is absent.",
}


def named(data: Any) -> Any:
    """JSM names a recipient by ``id``; Opsgenie clients may give ``name`` or ``username``."""
    if isinstance(data, Mapping):
        ident = data.get("id") or data.get("name") or data.get("username")
        if ident is not None:
            return {**data, "id": ident}
    return data


def details_as_extra_properties(data: Any) -> Any:
    """Opsgenie calls the extra properties ``details``."""
    if isinstance(data, Mapping) and data.get("extraProperties") is None and "details" in data:
        return {**data, "extraProperties": data["details"]}
    return data


def lifted(wrapper: str, field: str, keys: tuple[str, ...]) -> Callable[[Any], Any]:
    """Opsgenie names a reference inside an object (``{"escalation": {"id"|"name"}}``): take the
    first of ``keys`` given there as ``field``, unless ``field`` itself is given."""

    def rewrite(data: Any) -> Any:
        inner = data.get(wrapper) if isinstance(data, Mapping) else None
        if isinstance(inner, Mapping) and data.get(field) is None:
            for key in keys:
                ident = inner.get(key)
                if isinstance(ident, str) and ident:
                    return {**data, field: ident}
        return data

    return rewrite


def reference_object(*keys: str) -> JsonSchemaValue:
    """The schema of an Opsgenie reference object, for :func:`document`."""
    return {"type": "object", "properties": {key: {"type": "string"} for key in keys}}


def normaliser(rewrite: Callable[[Any], Any]) -> Any:
    """A model's before-validator that rewrites the raw body with ``rewrite``."""

    def normalise(cls: type[RequestModel], data: Any) -> Any:
        return rewrite(data)

    return model_validator(mode="before")(cast(Any, classmethod(normalise)))


def from_query(name: str) -> Any:
    """A normaliser taking ``name`` from the query when the body has none.

    Opsgenie clients send what a ``DELETE`` removes as a comma-separated query parameter.
    """

    def normalise(cls: type[RequestModel], data: Any, info: ValidationInfo) -> Any:
        given = getattr(query_of(info), name, None)
        if isinstance(data, Mapping) and data.get(name) is None and given:
            return {**data, name: given}
        return data

    return model_validator(mode="before")(cast(Any, classmethod(normalise)))


def _given(data: Any, absent: object) -> Any:
    if isinstance(data, Mapping):
        return {key: value for key, value in data.items() if value != absent}
    return data


class AlertBody(RequestModel):
    """A body of ``/v1/alerts``: ``null`` means absent, as Opsgenie clients send it."""

    @model_validator(mode="before")
    @classmethod
    def _null_is_absent(cls, data: Any) -> Any:
        return _given(data, None)


class AlertQuery(QueryModel):
    """Query parameters of ``/v1/alerts``: an empty parameter means absent."""

    @model_validator(mode="before")
    @classmethod
    def _empty_is_absent(cls, data: Any) -> Any:
        return _given(data, "")
