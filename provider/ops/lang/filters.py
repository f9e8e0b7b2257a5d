"""Integration-action filters and their evaluation against an incoming payload.

A filter is ``{"conditionMatchType": …, "conditions": [...]}`` as in the JSM operations API. Field
names are dynamic properties of the payload (``subject``, ``alert.message``, ``_payload.x.y``) or
the alert fields (``message``, ``tags``, ``extra-properties`` …). :func:`explain` tells, for each
condition, what value it saw, whether it held and why; :func:`evaluate` is the same without the
story. Their JSON form and its parsing are in :mod:`provider.ops.lang.filter_schemas`; how a
field is found in a payload, in :mod:`provider.ops.lang.fields`. Nothing here touches the database.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from provider.ops.lang import regex as tenant_regex
from provider.ops.lang.fields import MISSING
from provider.ops.lang.fields import as_text
from provider.ops.lang.fields import display
from provider.ops.lang.fields import number_text
from provider.ops.lang.fields import resolve_field
from provider.ops.lang.regex import Budget
from provider.ops.lang.regex import BudgetSpent
from provider.ops.lang.regex import RegexError
from provider.ops.priority import PRIORITIES

MAX_PATTERN_LENGTH = tenant_regex.MAX_PATTERN_LENGTH
MAX_CONDITIONS = 50
MAX_EXPECTED_VALUE_LENGTH = 1000
MAX_FIELD_LENGTH = 250


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
OPS_BY_KIND = {
    "string": _STRING_OPS,
    "list": _LIST_OPS,
    "map": _MAP_OPS,
    "priority": _PRIORITY_OPS,
}


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
        value = value.get(cond.key, MISSING) if isinstance(value, Mapping) else MISSING
    raw_result, reason = _apply(cond, value, budget if budget is not None else Budget())
    result = (not raw_result) if cond.negate else raw_result
    if cond.negate:
        reason = f"not ({reason})"
    return ConditionResult(cond, display(value), result, reason)


def _apply(cond: Condition, value: Any, budget: Budget) -> tuple[bool, str]:
    op, expected = cond.operation, cond.expected_value
    name = cond.field if cond.key is None else f"{cond.field}[{cond.key}]"
    if op is Operation.IS_EMPTY:
        empty = value is MISSING or value is None or value in ("", [], {})
        return empty, f"{name} is {'empty' if empty else 'not empty'}"
    if value is MISSING or value is None:
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
        return False, f"{name} ({display(value)!r}) is not a number"
    if right is None:
        return False, f"expected value {expected!r} is not a number"
    ok = left > right if op is Operation.GREATER_THAN else left < right
    word = "greater" if op is Operation.GREATER_THAN else "less"
    return ok, f"{name} {number_text(left)} is {'' if ok else 'not '}{word} than {expected}"


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
