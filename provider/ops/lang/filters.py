"""Integration-action filters: parse, validate and evaluate them against an incoming payload.

A filter is ``{"conditionMatchType": …, "conditions": [...]}`` as in the JSM operations API. Field
names are dynamic properties of the payload (``subject``, ``alert.message``, ``_payload.x.y``) or
the alert fields (``message``, ``tags``, ``extra-properties`` …). :func:`explain` tells, for each
condition, what value it saw, whether it held and why; :func:`evaluate` is the same without the
story. Nothing here touches the database.
"""

from __future__ import annotations

import enum
import functools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
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
from provider.ops.lang.regex import Budget
from provider.ops.lang.regex import BudgetSpent
from provider.ops.lang.regex import RegexError
from provider.schema.fields import Items
from provider.schema.fields import RequestModel
from provider.schema.fields import ResponseModel
from provider.schema.fields import Text
from provider.schema.fields import problem
from provider.schema.parsing import to_validation_failed

MAX_PATTERN_LENGTH = tenant_regex.MAX_PATTERN_LENGTH
MAX_CONDITIONS = 50
MAX_EXPECTED_VALUE_LENGTH = 1000
MAX_FIELD_LENGTH = 250

PRIORITIES = ("P1", "P2", "P3", "P4", "P5")


class MatchType(enum.StrEnum):
    MATCH_ALL = "match-all"
    MATCH_ANY_CONDITION = "match-any-condition"
    MATCH_ALL_CONDITIONS = "match-all-conditions"


class Operation(enum.StrEnum):
    MATCHES = "matches"
    CONTAINS = "contains"
    STARTS_WITH = "starts-with"
    ENDS_WITH = "ends-with"
    EQUALS = "equals"
    CONTAINS_KEY = "contains-key"
    CONTAINS_VALUE = "contains-value"
    GREATER_THAN = "greater-than"
    LESS_THAN = "less-than"
    IS_EMPTY = "is-empty"
    EQUALS_IGNORE_WHITESPACE = "equals-ignore-whitespace"


_STRING_OPS = frozenset(
    {
        Operation.CONTAINS,
        Operation.IS_EMPTY,
        Operation.MATCHES,
        Operation.EQUALS,
        Operation.STARTS_WITH,
        Operation.ENDS_WITH,
        Operation.EQUALS_IGNORE_WHITESPACE,
    }
)
_LIST_OPS = frozenset({Operation.CONTAINS, Operation.IS_EMPTY, Operation.MATCHES})
_MAP_OPS = frozenset(
    {Operation.CONTAINS, Operation.IS_EMPTY, Operation.CONTAINS_KEY, Operation.CONTAINS_VALUE}
)
_PRIORITY_OPS = frozenset(
    {Operation.EQUALS, Operation.GREATER_THAN, Operation.LESS_THAN, Operation.IS_EMPTY}
)

#: The alert fields with a fixed kind and the operations the official SDK allows on them. Any
#: other field name is a dynamic property of the payload and accepts every operation.
FIELD_KINDS: dict[str, str] = {
    "message": "string",
    "alias": "string",
    "description": "string",
    "source": "string",
    "entity": "string",
    "teams": "string",
    "user": "string",
    "note": "string",
    "actions": "list",
    "tags": "list",
    "recipients": "list",
    "responders": "list",
    "extra-properties": "map",
    "details": "map",
    "extraProperties": "map",
    "priority": "priority",
}
_OPS_BY_KIND = {
    "string": _STRING_OPS,
    "list": _LIST_OPS,
    "map": _MAP_OPS,
    "priority": _PRIORITY_OPS,
}
_MAP_FIELDS = ("extra-properties", "details", "extraProperties")


@dataclass(frozen=True, slots=True)
class Condition:
    field: str
    operation: Operation
    expected_value: str = ""
    negate: bool = False
    key: str | None = None
    order: int = 0
    system_condition: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "field": self.field,
            "operation": self.operation.value,
            "expectedValue": self.expected_value,
            "not": self.negate,
            "order": self.order,
            "systemCondition": self.system_condition,
        }
        if self.key is not None:
            out["key"] = self.key
        return out


@dataclass(frozen=True, slots=True)
class Filter:
    match_type: MatchType = MatchType.MATCH_ALL
    conditions: tuple[Condition, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "conditionsEmpty": not self.conditions,
            "conditionMatchType": self.match_type.value,
            "conditions": [c.to_json() for c in self.conditions],
        }


MATCH_ALL = Filter()


@dataclass(frozen=True, slots=True)
class ConditionResult:
    condition: Condition
    actual: Any
    result: bool
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            **self.condition.to_json(),
            "actual": self.actual,
            "result": self.result,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class FilterExplanation:
    matched: bool
    match_type: MatchType
    conditions: list[ConditionResult] = field(default_factory=list)
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "matched": self.matched,
            "conditionMatchType": self.match_type.value,
            "reason": self.reason,
            "conditions": [c.to_json() for c in self.conditions],
        }


# ---------------------------------------------------------------------------------------------
# The JSON form: one declaration for validation, the document and the output


def _number_or_flag_as_text(value: Any) -> Any:
    # JSM clients send expected values as they read them: 5, true, null.
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _number_text(value)
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
        allowed = _OPS_BY_KIND[effective]
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


# ---------------------------------------------------------------------------------------------
# Field resolution

_MISSING: Any = object()


def resolve_field(payload: Mapping[str, Any], name: str) -> Any:
    """Find a field's value in a payload, or ``_MISSING``.

    Order: the alert-field synonyms (``extra-properties`` → ``extraProperties``/``details``,
    ``recipients``/``responders``); ``_payload.…`` (the raw payload); a top-level key spelled
    exactly so (keys may contain dots); then a dotted path through objects and list indexes.
    """
    if name in _MAP_FIELDS:
        for candidate in ("extraProperties", "details", "extra-properties"):
            value = payload.get(candidate)
            if isinstance(value, Mapping):
                return value
        return _MISSING
    if name in ("recipients", "responders"):
        for candidate in ("responders", "recipients"):
            if candidate in payload:
                return payload[candidate]
        return _MISSING
    if name == "_payload":
        return payload.get("_payload", payload)
    if name.startswith("_payload."):
        root = payload.get("_payload", payload)
        return _walk(root, name[len("_payload.") :])
    if name in payload:
        return payload[name]
    return _walk(payload, name)


def _walk(value: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(value, Mapping):
            if part not in value:
                return _MISSING
            value = value[part]
        elif (
            isinstance(value, list) and part.isascii() and part.isdigit() and int(part) < len(value)
        ):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def is_missing(value: Any) -> bool:
    return value is _MISSING


def as_text(value: Any) -> str:
    """The string a condition or template sees for a scalar value."""
    if value is _MISSING or value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number_text(value)
    if isinstance(value, str):
        return value
    return _json_text(value)


def _number_text(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        return str(int(value))
    return str(value)


def _json_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def _display(value: Any) -> Any:
    """The value shown in an explanation; long values are shortened so a dry run stays small."""
    if value is _MISSING:
        return None
    text = value if isinstance(value, str) else None
    if text is not None and len(text) > 200:
        return text[:200] + "…"
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    dumped = _json_text(value)
    return value if len(dumped) <= 500 else dumped[:500] + "…"


# ---------------------------------------------------------------------------------------------
# Evaluation


def evaluate(flt: Filter, payload: Mapping[str, Any], budget: Budget | None = None) -> bool:
    return explain(flt, payload, budget).matched


def explain(
    flt: Filter, payload: Mapping[str, Any], budget: Budget | None = None
) -> FilterExplanation:
    """Evaluate a filter and say why each condition held or not.

    ``budget``: what the alert or request being handled may still spend on patterns (a fresh
    one when not given); a ``matches`` past it does not hold.
    """
    budget = budget if budget is not None else Budget()
    if flt.match_type is MatchType.MATCH_ALL:
        return FilterExplanation(True, flt.match_type, [], "match-all matches every payload")
    results: list[ConditionResult] = []
    any_mode = flt.match_type is MatchType.MATCH_ANY_CONDITION
    for cond in flt.conditions:
        if budget.exhausted:
            # A filter that cannot be evaluated to the end does not hold, and the rest of its
            # conditions cost nothing: that is what bounds a configuration's cost.
            return FilterExplanation(False, flt.match_type, results, budget.reason())
        res = evaluate_condition(cond, payload, budget)
        results.append(res)
        # Short-circuit like the vendor; the explanation lists the conditions actually consulted.
        if any_mode and res.result:
            return FilterExplanation(True, flt.match_type, results, f"condition {cond.order} held")
        if not any_mode and not res.result:
            return FilterExplanation(
                False, flt.match_type, results, f"condition {cond.order} did not hold"
            )
    if any_mode:
        return FilterExplanation(False, flt.match_type, results, "no condition held")
    return FilterExplanation(True, flt.match_type, results, "every condition held")


def evaluate_condition(
    cond: Condition, payload: Mapping[str, Any], budget: Budget | None = None
) -> ConditionResult:
    value = resolve_field(payload, cond.field)
    if cond.key is not None:
        value = value.get(cond.key, _MISSING) if isinstance(value, Mapping) else _MISSING
    raw_result, reason = _apply(cond, value, budget if budget is not None else Budget())
    result = (not raw_result) if cond.negate else raw_result
    if cond.negate:
        reason = f"not ({reason})"
    return ConditionResult(cond, _display(value), result, reason)


def _apply(cond: Condition, value: Any, budget: Budget) -> tuple[bool, str]:
    op, expected = cond.operation, cond.expected_value
    name = cond.field if cond.key is None else f"{cond.field}[{cond.key}]"
    if op is Operation.IS_EMPTY:
        empty = value is _MISSING or value is None or value in ("", [], {})
        return empty, f"{name} is {'empty' if empty else 'not empty'}"
    if value is _MISSING or value is None:
        return False, f"{name} is not in the payload"
    if FIELD_KINDS.get(cond.field) == "priority" and op in (
        Operation.GREATER_THAN,
        Operation.LESS_THAN,
        Operation.EQUALS,
    ):
        return _priority(op, as_text(value).upper(), expected.upper())
    if op in (Operation.GREATER_THAN, Operation.LESS_THAN):
        return _compare_numbers(op, name, value, expected)
    if op is Operation.CONTAINS_KEY:
        if not isinstance(value, Mapping):
            return False, f"{name} is not an object"
        found = expected in value
        return found, f"{name} {'has' if found else 'has no'} key {expected!r}"
    if op is Operation.CONTAINS_VALUE:
        if not isinstance(value, Mapping):
            return False, f"{name} is not an object"
        found = any(as_text(v) == expected for v in value.values())
        return found, f"{name} {'has' if found else 'has no'} value {expected!r}"
    if isinstance(value, Mapping):
        if op is Operation.CONTAINS:
            pairs = {f"{k}={as_text(v)}" for k, v in value.items()}
            found = expected in value or any(as_text(v) == expected for v in value.values())
            found = found or expected in pairs
            return found, f"{name} {'has' if found else 'has no'} key, value or pair {expected!r}"
        return _on_text(op, name, as_text(value), expected, budget)
    if isinstance(value, list):
        items = [as_text(v) for v in value]
        if op is Operation.CONTAINS:
            found = expected in items
            return found, f"{name} {'includes' if found else 'does not include'} {expected!r}"
        for item in items:
            ok, why = _on_text(op, name, item, expected, budget)
            if ok:
                return True, f"item {item!r} of {name}: {why}"
            if budget.exhausted:
                return False, why
        return False, f"no item of {name} satisfies {op.value} {expected!r}"
    return _on_text(op, name, as_text(value), expected, budget)


def _on_text(
    op: Operation, name: str, text: str, expected: str, budget: Budget
) -> tuple[bool, str]:
    if op is Operation.EQUALS:
        ok = text == expected
        return ok, f"{name} {'equals' if ok else 'does not equal'} {expected!r}"
    if op is Operation.CONTAINS:
        ok = expected in text
        return ok, f"{name} {'contains' if ok else 'does not contain'} {expected!r}"
    if op is Operation.STARTS_WITH:
        ok = text.startswith(expected)
        return ok, f"{name} {'starts' if ok else 'does not start'} with {expected!r}"
    if op is Operation.ENDS_WITH:
        ok = text.endswith(expected)
        return ok, f"{name} {'ends' if ok else 'does not end'} with {expected!r}"
    if op is Operation.EQUALS_IGNORE_WHITESPACE:
        ok = "".join(text.split()) == "".join(expected.split())
        return ok, f"{name} {'equals' if ok else 'does not equal'} {expected!r} ignoring whitespace"
    if op is Operation.MATCHES:
        return regex_fullmatch(expected, text, budget, name=name)
    return False, f"{op.value} does not apply to text"


def regex_fullmatch(
    pattern: str, text: str, budget: Budget, *, name: str = "value"
) -> tuple[bool, str]:
    """Whole-string match, as Java's ``String.matches`` does; past the budget, no match."""
    try:
        ok = tenant_regex.fullmatch(pattern, text, budget)
    except RegexError as e:
        return False, f"invalid regex: {e}"
    except BudgetSpent as e:
        return False, f"regex on {name} not run: {e}"
    return ok, f"{name} {'matches' if ok else 'does not match'} /{pattern}/"


def _priority(op: Operation, actual: str, expected: str) -> tuple[bool, str]:
    if actual not in PRIORITIES:
        return False, f"priority {actual!r} is not one of P1..P5"
    # P1 is the highest priority, so "greater than P3" means P1 or P2.
    a, e = PRIORITIES.index(actual), PRIORITIES.index(expected)
    if op is Operation.EQUALS:
        return a == e, f"priority {actual} {'equals' if a == e else 'differs from'} {expected}"
    if op is Operation.GREATER_THAN:
        ok = a < e
        return ok, f"priority {actual} is {'higher' if ok else 'not higher'} than {expected}"
    ok = a > e
    return ok, f"priority {actual} is {'lower' if ok else 'not lower'} than {expected}"


def _compare_numbers(op: Operation, name: str, value: Any, expected: str) -> tuple[bool, str]:
    left, right = _number(value), _number(expected)
    if left is None:
        return False, f"{name} ({_display(value)!r}) is not a number"
    if right is None:
        return False, f"expected value {expected!r} is not a number"
    ok = left > right if op is Operation.GREATER_THAN else left < right
    word = "greater" if op is Operation.GREATER_THAN else "less"
    return ok, f"{name} {_number_text(left)} is {'' if ok else 'not '}{word} than {expected}"


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None
