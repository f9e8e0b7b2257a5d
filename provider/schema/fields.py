"""Base classes of request and response models, and the field types they are built from.

Request models are strict (no string-to-number coercion, no NaN or infinity) and read camelCase
names; response models write camelCase and are closed, so the document says exactly what is
sent. Field types carry their own limits: a limit written here is the limit everywhere.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Annotated
from typing import Any
from typing import Self

from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field
from pydantic import GetCoreSchemaHandler
from pydantic import GetJsonSchemaHandler
from pydantic import PlainSerializer
from pydantic import PrivateAttr
from pydantic import WithJsonSchema
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError
from pydantic_core import core_schema

from provider.times import iso

ELLIPSIS = "…"


def problem(message: str) -> PydanticCustomError:
    """A validation error whose message is shown as written, after the field's name."""
    return PydanticCustomError("provider", message)


@dataclass
class Limits:
    """The validation context of one request: reject over-long values, or cut and note them.

    ``query`` is the request's parsed query, for a body that may take a value from it instead
    (Opsgenie clients send the keys of a ``DELETE`` as a query parameter).
    """

    strict: bool = False
    notes: list[str] = field(default_factory=list)
    query: BaseModel | None = None


def _limits(info: core_schema.ValidationInfo) -> Limits | None:
    context = info.context
    return context if isinstance(context, Limits) else None


def query_of(info: core_schema.ValidationInfo) -> BaseModel | None:
    """The parsed query of the request whose body is being validated, if it has one."""
    limits = _limits(info)
    return limits.query if limits is not None else None


def wire_name(info: core_schema.ValidationInfo) -> str:
    return to_camel(info.field_name or "value")


# Both directions speak camelCase on the wire and snake_case in Python.
_CAMEL_CASE = ConfigDict(alias_generator=to_camel, validate_by_name=True, validate_by_alias=True)


class RequestModel(BaseModel):
    """A request body or query: strict types, camelCase names, unknown fields ignored."""

    model_config = ConfigDict(
        **_CAMEL_CASE,
        strict=True,
        extra="ignore",
        allow_inf_nan=False,
        frozen=True,
    )

    _truncations: list[str] = PrivateAttr(default_factory=list)

    @property
    def truncations(self) -> list[str]:
        """What validation cut to fit a limit (empty under ``strictValidation``)."""
        return list(self._truncations)


class ResponseModel(BaseModel):
    """A response body: camelCase names, every field always present, nothing undocumented."""

    model_config = ConfigDict(
        **_CAMEL_CASE,
        serialize_by_alias=True,
        extra="forbid",
        json_schema_serialization_defaults_required=True,
    )

    @classmethod
    def from_row(cls, row: object, **computed: Any) -> Self:
        """The body of ``row``: the ``computed`` fields, the rest from its attributes of that name."""
        same = {name: getattr(row, name) for name in cls.model_fields.keys() - computed.keys()}
        return cls(**same, **computed)


@dataclass(frozen=True, slots=True)
class TextRule:
    """Limits of a string field.

    ``truncate``: an over-long value is cut (and the cut noted) unless the request is strict, so
    monitoring tools are never refused for a long message; otherwise it is a 422. The document
    states ``maxLength`` only where the limit is a hard one.
    """

    max_length: int | None = None
    truncate: bool = False
    ellipsis: bool = False
    strip: bool = True
    nonempty: bool = False
    # A name people read: control characters (a newline, an escape) only confuse them.
    printable: bool = False

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        # Text is text: never a number coerced to one, whatever the model's own strictness.
        return core_schema.with_info_after_validator_function(
            self.check, core_schema.str_schema(strict=True)
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        out = handler(schema)
        if self.max_length is not None:
            if self.truncate:
                out["x-truncatedAt"] = self.max_length
                note = (
                    f"Longer than {self.max_length} characters is truncated "
                    "(a 422 with `strictValidation=true`)."
                )
                out["description"] = (
                    f"{out['description']} {note}" if "description" in out else note
                )
            else:
                out["maxLength"] = self.max_length
        if self.nonempty:
            out["pattern"] = r"\S"
        return out

    def check(self, value: str, info: core_schema.ValidationInfo) -> str:
        if self.strip:
            value = value.strip()
        if self.nonempty and not value.strip():
            raise problem("must not be empty")
        if self.printable and any(unicodedata.category(ch) == "Cc" for ch in value):
            raise problem("must not contain control characters")
        if self.max_length is None or len(value) <= self.max_length:
            return value
        _cut_or_refuse(
            info,
            self.truncate,
            f"must be at most {self.max_length} characters",
            f"{wire_name(info)} truncated from {len(value)} to {self.max_length} characters",
        )
        if self.ellipsis:
            return value[: self.max_length - 1] + ELLIPSIS
        return value[: self.max_length]


def Text(  # noqa: N802 - named like the field it describes
    max_length: int | None = None,
    *,
    truncate: bool = False,
    ellipsis: bool = False,
    strip: bool = True,
    nonempty: bool = False,
    printable: bool = False,
) -> TextRule:
    """The limits of a text field: ``name: Annotated[str, Text(255, nonempty=True)]``."""
    return TextRule(max_length, truncate, ellipsis, strip, nonempty, printable)


@dataclass(frozen=True, slots=True)
class ItemsRule:
    """At most ``max_items`` items: extra items are dropped (and noted) or refused."""

    max_items: int
    truncate: bool = False
    unique: bool = False

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.with_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        out = handler(schema)
        if self.truncate:
            out["x-truncatedAt"] = self.max_items
            out["description"] = (
                f"Items beyond {self.max_items} are dropped (a 422 with `strictValidation=true`)."
            )
        else:
            out["maxItems"] = self.max_items
        return out

    def check(self, values: list[Any], info: core_schema.ValidationInfo) -> list[Any]:
        if self.unique:
            kept: list[Any] = []
            for value in values:
                if value not in kept and value != "":
                    kept.append(value)
            values = kept
        if len(values) <= self.max_items:
            return values
        _cut_or_refuse(
            info,
            self.truncate,
            f"must have at most {self.max_items} items",
            f"{wire_name(info)}: {len(values) - self.max_items} items beyond the limit of "
            f"{self.max_items} dropped",
        )
        return values[: self.max_items]


def _cut_or_refuse(
    info: core_schema.ValidationInfo, truncate: bool, refusal: str, note: str
) -> None:
    """Let an over-long value be cut (noting it), or refuse it in a strict request."""
    limits = _limits(info)
    if not truncate or limits is None or limits.strict:
        raise problem(refusal)
    limits.notes.append(note)


def Items(  # noqa: N802 - named like the field it describes
    max_items: int, *, truncate: bool = False, unique: bool = False
) -> ItemsRule:
    """At most ``max_items`` entries: ``tags: Annotated[list[Tag], Items(20, unique=True)]``."""
    return ItemsRule(max_items, truncate, unique)


def _finite(value: Any) -> bool:
    return not isinstance(value, float) or math.isfinite(value)


@dataclass(frozen=True, slots=True)
class ScalarRule:
    """A JSON scalar: string, finite number, boolean or null."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            self.check, json_schema_input_schema=core_schema.any_schema()
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": ["string", "number", "boolean", "null"]}

    @staticmethod
    def check(value: Any) -> Any:
        if value is None or isinstance(value, str | bool | int):
            return value
        if isinstance(value, float):
            if not _finite(value):
                raise problem("values must be finite numbers")
            return value
        raise problem("values must be strings, numbers, booleans or null")


Scalar = Annotated[Any, ScalarRule()]


# A time in a response: always ISO 8601 UTC with milliseconds.
Timestamp = Annotated[
    datetime,
    PlainSerializer(iso, return_type=str, when_used="always"),
    WithJsonSchema(
        {"type": "string", "format": "date-time", "description": "ISO 8601 UTC with milliseconds."}
    ),
]


def unset() -> Any:
    """The default of a field an update may leave out but may not set to null.

    Typed as anything, so a field declared ``Annotated[str, …]`` can default to "not sent".
    """
    return Field(default=None)


def predicate(check: Callable[[Any], bool], message: str) -> Any:
    """An after-validator that refuses values for which ``check`` is false."""

    def run(value: Any) -> Any:
        if not check(value):
            raise problem(message)
        return value

    return run
