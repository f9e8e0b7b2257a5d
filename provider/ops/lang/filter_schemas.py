"""The JSON form of integration-action filters: one declaration for validation, the API
document and the output, and the parsers that turn it into a :class:`~provider.ops.lang.filters.Filter`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Annotated
from typing import Any

from pydantic import AliasChoices
from pydantic import BeforeValidator
from pydantic import Field
from pydantic import Strict
from pydantic import ValidationError
from pydantic import ValidationInfo
from pydantic import field_validator

from provider.errors import ValidationFailed
from provider.ops.lang import regex as tenant_regex
from provider.ops.lang.fields import number_text
from provider.ops.lang.filters import FIELD_KINDS
from provider.ops.lang.filters import MATCH_ALL
from provider.ops.lang.filters import MAX_CONDITIONS
from provider.ops.lang.filters import MAX_EXPECTED_VALUE_LENGTH
from provider.ops.lang.filters import MAX_FIELD_LENGTH
from provider.ops.lang.filters import MAX_PATTERN_LENGTH
from provider.ops.lang.filters import OPS_BY_KIND
from provider.ops.lang.filters import Condition
from provider.ops.lang.filters import Filter
from provider.ops.lang.filters import MatchType
from provider.ops.lang.filters import Operation
from provider.ops.priority import PRIORITIES
from provider.schema.fields import Items
from provider.schema.fields import RequestModel
from provider.schema.fields import ResponseModel
from provider.schema.fields import Text
from provider.schema.fields import problem
from provider.schema.parsing import to_validation_failed


def _number_or_flag_as_text(value: Any) -> Any:
    # JSM clients send expected values as they read them: 5, true, null.
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return number_text(value)
    return value


class ConditionInput(RequestModel):
    """One condition; checked against the field's kind (an alert field allows only some operations)."""

    field: Annotated[str, Text(MAX_FIELD_LENGTH, nonempty=True)]
    key: Annotated[str, Text(strip=False, nonempty=True)] | None = Field(
        default=None, description="With field extra-properties: the one property to look at."
    )
    operation: Annotated[Operation, Strict(False)]
    expected_value: Annotated[
        Annotated[str, Text(MAX_EXPECTED_VALUE_LENGTH, strip=False)],
        BeforeValidator(_number_or_flag_as_text),
    ] = ""
    not_: Annotated[bool, BeforeValidator(lambda v: False if v is None else v)] = Field(
        default=False, alias="not"
    )
    order: Annotated[int, Field(ge=-(2**31), lt=2**31)] | None = None
    system_condition: bool = False

    @field_validator("key")
    @classmethod
    def _key_needs_a_map_field(cls, key: str | None, info: ValidationInfo) -> str | None:
        if key is not None and FIELD_KINDS.get(info.data.get("field", "")) != "map":
            raise problem("is only valid with field extra-properties")
        return key

    @field_validator("operation")
    @classmethod
    def _operation_fits_the_field(cls, operation: Operation, info: ValidationInfo) -> Operation:
        name = info.data.get("field", "")
        kind = FIELD_KINDS.get(name)
        if kind is None:
            return operation
        # With a key the condition looks at one extra property's value, which is a string.
        effective = "string" if (kind == "map" and info.data.get("key") is not None) else kind
        allowed = OPS_BY_KIND[effective]
        if operation not in allowed:
            names = ", ".join(sorted(o.value for o in allowed))
            raise problem(f"{operation.value} is not valid for field {name} (allowed: {names})")
        return operation

    @field_validator("expected_value")
    @classmethod
    def _expected_value_fits(cls, expected: str, info: ValidationInfo) -> str:
        operation = info.data.get("operation")
        if FIELD_KINDS.get(info.data.get("field", "")) == "priority" and operation not in (
            None,
            Operation.IS_EMPTY,
        ):
            if expected.upper() not in PRIORITIES:
                raise problem("must be one of P1, P2, P3, P4, P5 for field priority")
            return expected.upper()
        if operation is Operation.MATCHES:
            if len(expected) > MAX_PATTERN_LENGTH:
                raise problem(f"pattern must be at most {MAX_PATTERN_LENGTH} characters")
            why = tenant_regex.check_pattern(expected)
            if why is not None:
                raise problem(f"is not a valid regex: {why}")
        return expected

    def condition(self, index: int) -> Condition:
        return Condition(
            field=self.field,
            operation=self.operation,
            expected_value=self.expected_value,
            negate=self.not_,
            key=self.key,
            order=index if self.order is None else self.order,
            system_condition=self.system_condition,
        )


class FilterInput(RequestModel):
    """``match-all`` takes no conditions (an empty list is accepted: JSM's examples send one)."""

    condition_match_type: Annotated[MatchType, Strict(False)] = Field(
        default=MatchType.MATCH_ALL,
        validation_alias=AliasChoices("conditionMatchType", "type"),
        description="`type` is accepted as its alias.",
    )
    conditions: Annotated[
        Annotated[list[ConditionInput], Items(MAX_CONDITIONS)],
        BeforeValidator(lambda v: [] if v is None else v),
    ] = Field(default_factory=list, validate_default=True)

    @field_validator("conditions")
    @classmethod
    def _conditions_fit_the_match_type(
        cls, conditions: list[ConditionInput], info: ValidationInfo
    ) -> list[ConditionInput]:
        match_type = info.data.get("condition_match_type", MatchType.MATCH_ALL)
        if match_type is MatchType.MATCH_ALL and conditions:
            raise problem("must be empty when conditionMatchType is match-all")
        if match_type is not MatchType.MATCH_ALL and not conditions:
            raise problem(f"must not be empty when conditionMatchType is {match_type.value}")
        return conditions

    def to_filter(self) -> Filter:
        if self.condition_match_type is MatchType.MATCH_ALL:
            return MATCH_ALL
        conditions = [c.condition(i) for i, c in enumerate(self.conditions)]
        # A stable sort: conditions without an explicit order keep the order they were given in.
        conditions.sort(key=lambda c: c.order)
        return Filter(self.condition_match_type, tuple(conditions))


class ConditionOutput(ResponseModel):
    field: str
    operation: Operation
    expected_value: str
    not_: bool = Field(alias="not")
    key: str | None = Field(default=None, exclude_if=lambda v: v is None)
    order: int
    system_condition: bool


class FilterOutput(ResponseModel):
    conditions_empty: bool
    condition_match_type: MatchType
    conditions: list[ConditionOutput]

    @classmethod
    def of(cls, stored: Mapping[str, Any] | None) -> FilterOutput:
        """A stored filter (its ``to_json`` form) as it is shown; none is match-all."""
        return cls.model_validate(stored or MATCH_ALL.to_json())


def stored_filter(raw: Mapping[str, Any] | None) -> Filter:
    """A saved filter (its ``to_json`` form), parsed once per distinct content.

    Every alert change consults every outgoing action's and rule's filter; parsing fifty
    conditions each time cost more than evaluating them. ``Filter`` is immutable, so the parsed
    form is shared.

    :raises ValidationFailed: for a saved filter that no longer parses.
    """
    if not raw:
        return MATCH_ALL
    return _parse_stored(json.dumps(raw, sort_keys=True))


@functools.lru_cache(maxsize=2048)
def _parse_stored(text: str) -> Filter:
    return parse_filter(json.loads(text))


def parse_filter(raw: object, *, pointer: str = "/filter") -> Filter:
    """Read and validate a filter from its JSON form (``None`` is match-all).

    :raises ValidationFailed: naming the first thing that is wrong and where.
    """
    if raw is None:
        return MATCH_ALL
    name = pointer.strip("/").replace("/", ".")
    if not isinstance(raw, Mapping):
        _fail(pointer, f"{name} must be an object")
    try:
        return FilterInput.model_validate(raw).to_filter()
    except ValidationError as e:
        raise to_validation_failed(e, prefix=tuple(pointer.strip("/").split("/"))) from None


def parse_condition(raw: object, *, index: int = 0, pointer: str = "/condition") -> Condition:
    """:raises ValidationFailed: when the condition is malformed or its operation does not fit."""
    if not isinstance(raw, Mapping):
        _fail(pointer, f"filter.conditions[{index}] must be an object")
    try:
        return ConditionInput.model_validate(raw).condition(index)
    except ValidationError as e:
        raise to_validation_failed(e, prefix=tuple(pointer.strip("/").split("/"))) from None


def _fail(pointer: str, title: str) -> Any:
    raise ValidationFailed(title, details={"source": {"pointer": pointer}})
