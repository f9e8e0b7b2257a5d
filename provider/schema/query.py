"""Query-string models: every value arrives as text, so each type says how it reads text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from typing import Any

from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field
from pydantic import GetCoreSchemaHandler
from pydantic import GetJsonSchemaHandler
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from provider.schema.fields import problem

TRUE_WORDS = frozenset({"1", "true", "yes"})


class QueryModel(BaseModel):
    """Query parameters of one operation; unknown parameters are ignored."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        extra="ignore",
        frozen=True,
    )

    @classmethod
    def documented_limits(cls) -> str | None:
        """What an operation that reads these parameters says of their limits in the document."""
        return None


@dataclass(frozen=True, slots=True)
class WholeNumber:
    """A non-negative whole number written in ASCII digits (``١٢`` is not twelve here)."""

    minimum: int = 0
    maximum: int | None = None
    message: str | None = None

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            self.check, json_schema_input_schema=core_schema.int_schema()
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        out: JsonSchemaValue = {"type": "integer", "minimum": self.minimum}
        if self.maximum is not None:
            out["maximum"] = self.maximum
        return out

    def check(self, value: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            text = str(value).strip()
            if not (text.isascii() and text.isdigit()) or len(text) > 9:
                raise problem(self.message or "must be a non-negative whole number")
            number = int(text)
        if number < self.minimum or (self.maximum is not None and number > self.maximum):
            if self.message:
                raise problem(self.message)
            upper = f" and {self.maximum}" if self.maximum is not None else ""
            raise problem(f"must be between {self.minimum}{upper}")
        return number


def Count(  # noqa: N802 - named like the field it describes
    minimum: int = 0, maximum: int | None = None, *, message: str | None = None
) -> WholeNumber:
    """A whole number in a query: ``size: Annotated[int, Count(1, 100)]``."""
    return WholeNumber(minimum, maximum, message)


@dataclass(frozen=True, slots=True)
class FlagRule:
    """``1``, ``true`` or ``yes`` (any case) mean true; anything else, or nothing, false."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            self.check, json_schema_input_schema=core_schema.bool_schema()
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "boolean"}

    @staticmethod
    def check(value: Any) -> bool:
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in TRUE_WORDS


Flag = Annotated[bool, FlagRule()]


class StrictValidation(QueryModel):
    """The ``strictValidation`` switch every truncating write takes."""

    strict_validation: Flag = Field(
        default=False, description="Reject over-long values with 422 instead of truncating them."
    )
