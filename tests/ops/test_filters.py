from __future__ import annotations

from typing import Any

import pytest

from provider.errors import ValidationFailed
from provider.ops.lang import filters
from provider.ops.lang.filter_schemas import parse_filter
from provider.ops.lang.regex import Budget

PAYLOAD: dict[str, Any] = {
    "message": "CPU high on web01",
    "alias": "cpu-web01",
    "description": "Load  is 9.5",
    "source": "nagios",
    "entity": "web01",
    "priority": "P2",
    "tags": ["prod", "linux", "team-ops"],
    "actions": ["restart"],
    "details": {"region": "eu-west-1", "owner": "ops"},
    "subject": "[ALERT] Host: db02 is DOWN",
    "from_address": "nagios@example.com",
    "count": 42,
    "empty": "",
    "alert": {"labels": {"severity": "critical"}, "hosts": ["a", "b"]},
    "dotted.key": "yes",
}


def cond(field: str, operation: str, expected: str = "", **extra: Any) -> dict[str, Any]:
    return {"field": field, "operation": operation, "expectedValue": expected, **extra}


# (condition, expected result) — one row per documented behaviour.
CASES = [
    (cond("message", "contains", "CPU"), True),
    (cond("message", "contains", "cpu"), False),  # case-sensitive, as in Java
    (cond("message", "equals", "CPU high on web01"), True),
    (cond("message", "equals", "CPU high"), False),
    (cond("message", "starts-with", "CPU"), True),
    (cond("message", "ends-with", "web01"), True),
    (cond("message", "ends-with", "web02"), False),
    (cond("message", "matches", "CPU.*web\\d+"), True),
    (cond("message", "matches", "CPU"), False),  # whole-string, not search
    (cond("description", "equals-ignore-whitespace", "Loadis9.5"), True),
    (cond("description", "equals-ignore-whitespace", "Load is 9"), False),
    (cond("tags", "contains", "prod"), True),
    (cond("tags", "contains", "pro"), False),  # membership, not substring
    (cond("tags", "matches", "team-.*"), True),  # a list matches if one item does
    (cond("tags", "is-empty"), False),
    (cond("actions", "contains", "restart"), True),
    (cond("extra-properties", "contains-key", "region"), True),
    (cond("extra-properties", "contains-key", "zone"), False),
    (cond("extra-properties", "contains-value", "ops"), True),
    (cond("extra-properties", "contains", "region=eu-west-1"), True),
    (cond("extra-properties", "equals", "eu-west-1", key="region"), True),
    (cond("extra-properties", "starts-with", "us-", key="region"), False),
    (cond("extra-properties", "is-empty", key="missing"), True),
    (cond("priority", "equals", "P2"), True),
    (cond("priority", "greater-than", "P3"), True),  # P1 is the highest
    (cond("priority", "greater-than", "P2"), False),
    (cond("priority", "less-than", "P1"), True),
    (cond("priority", "less-than", "P2"), False),
    (cond("count", "greater-than", "41"), True),
    (cond("count", "less-than", "41.5"), False),
    (cond("subject", "greater-than", "3"), False),  # not a number: never true
    (cond("empty", "is-empty"), True),
    (cond("nonexistent", "is-empty"), True),
    (cond("nonexistent", "equals", ""), False),  # a missing field equals nothing
    (cond("subject", "contains", "DOWN"), True),
    (cond("from_address", "ends-with", "@example.com"), True),
    (cond("alert.labels.severity", "equals", "critical"), True),
    (cond("alert.hosts", "contains", "b"), True),
    (cond("alert.hosts.0", "equals", "a"), True),
    (cond("_payload.alert.labels.severity", "equals", "critical"), True),
    (cond("dotted.key", "equals", "yes"), True),
    (cond("message", "contains", "CPU", **{"not": True}), False),
    (cond("message", "contains", "disk", **{"not": True}), True),
    (cond("nonexistent", "equals", "x", **{"not": True}), True),
]


@pytest.mark.parametrize(("condition", "expected"), CASES)
def test_condition_behaves_as_documented(condition: dict[str, Any], expected: bool) -> None:
    flt = parse_filter({"conditionMatchType": "match-all-conditions", "conditions": [condition]})
    explanation = filters.explain(flt, PAYLOAD)
    assert explanation.matched is expected
    (result,) = explanation.conditions
    assert result.result is expected
    assert result.reason


def test_match_all_matches_anything_and_has_no_conditions() -> None:
    flt = parse_filter(
        {"conditionsEmpty": True, "conditionMatchType": "match-all", "conditions": []}
    )
    assert filters.evaluate(flt, {}) is True
    assert flt.to_json() == {
        "conditionsEmpty": True,
        "conditionMatchType": "match-all",
        "conditions": [],
    }


def test_match_any_stops_at_the_first_true_condition() -> None:
    flt = parse_filter(
        {
            "conditionMatchType": "match-any-condition",
            "conditions": [
                cond("message", "contains", "disk", order=1),
                cond("tags", "contains", "prod", order=2),
                cond("source", "equals", "never-looked-at", order=3),
            ],
        }
    )
    explanation = filters.explain(flt, PAYLOAD)
    assert explanation.matched
    assert [c.result for c in explanation.conditions] == [False, True]


def test_match_all_conditions_fails_on_one_false_condition() -> None:
    flt = parse_filter(
        {
            "conditionMatchType": "match-all-conditions",
            "conditions": [cond("message", "contains", "CPU"), cond("entity", "equals", "db01")],
        }
    )
    explanation = filters.explain(flt, PAYLOAD)
    assert not explanation.matched
    assert explanation.conditions[-1].actual == "web01"
    assert "does not equal" in explanation.conditions[-1].reason


def test_conditions_are_evaluated_by_order_not_position() -> None:
    flt = parse_filter(
        {
            "conditionMatchType": "match-all-conditions",
            "conditions": [
                cond("message", "contains", "CPU", order=5),
                cond("entity", "equals", "web01", order=1),
            ],
        }
    )
    assert [c.field for c in flt.conditions] == ["entity", "message"]


INVALID = [
    ({"conditionMatchType": "match-some"}, "conditionMatchType must be one of"),
    (
        {"conditionMatchType": "match-all", "conditions": [cond("message", "contains", "x")]},
        "must be empty when conditionMatchType is match-all",
    ),
    ({"conditionMatchType": "match-any-condition", "conditions": []}, "must not be empty"),
    ({"conditionMatchType": "match-all-conditions"}, "must not be empty"),
    (
        {
            "conditionMatchType": "match-any-condition",
            "conditions": [cond("message", "less-than", "3")],
        },
        "operation less-than is not valid for field message",
    ),
    (
        {"conditionMatchType": "match-any-condition", "conditions": [cond("tags", "equals", "x")]},
        "operation equals is not valid for field tags",
    ),
    (
        {
            "conditionMatchType": "match-any-condition",
            "conditions": [cond("priority", "equals", "P9")],
        },
        "must be one of P1, P2, P3, P4, P5",
    ),
    (
        {
            "conditionMatchType": "match-any-condition",
            "conditions": [cond("message", "equals", "x", key="k")],
        },
        "key is only valid with field extra-properties",
    ),
    (
        {
            "conditionMatchType": "match-any-condition",
            "conditions": [cond("message", "matches", "(unclosed")],
        },
        "is not a valid regex",
    ),
    (
        {
            "conditionMatchType": "match-any-condition",
            "conditions": [cond("message", "fuzzy", "x")],
        },
        "operation must be one of",
    ),
    (
        {"conditionMatchType": "match-any-condition", "conditions": [{"operation": "equals"}]},
        "field is required",
    ),
    ({"conditionMatchType": "match-any-condition", "conditions": ["nope"]}, "must be an object"),
    ("match-all", "filter must be an object"),
    (
        {
            "conditionMatchType": "match-any-condition",
            "conditions": [cond("message", "equals", "x", **{"not": "yes"})],
        },
        "not must be true or false",
    ),
    (
        {
            "conditionMatchType": "match-any-condition",
            "conditions": [cond("message", "equals", "x", order="1")],
        },
        "order must be a whole number",
    ),
]


@pytest.mark.parametrize(("raw", "message"), INVALID)
def test_invalid_filters_are_refused_with_a_useful_title(raw: object, message: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        parse_filter(raw)
    assert message in err.value.message
    assert err.value.details["source"]["pointer"].startswith("/filter")


def test_a_catastrophic_pattern_for_backtracking_engines_is_just_a_pattern() -> None:
    # (a|aa)+b on 60 a's takes a backtracking engine longer than the universe has; RE2 is linear.
    flt = parse_filter(
        {
            "conditionMatchType": "match-all-conditions",
            "conditions": [cond("text", "matches", "(a|aa)+b")],
        }
    )
    result = filters.evaluate_condition(flt.conditions[0], {"text": "a" * 100_000})
    assert result.result is False
    assert "does not match" in result.reason


@pytest.mark.parametrize(
    ("pattern", "construct"),
    [
        (r"(a)\1", "backreferences"),
        (r"x(?=y)", "lookahead"),
        (r"x(?!y)", "negative lookahead"),
        (r"(?<=x)y", "lookbehind"),
        (r"(?<!x)y", "negative lookbehind"),
        (r"(?>ab)", "atomic groups"),
        (r"a++", "possessive quantifiers"),
        (r"(?P<n>a)(?P=n)", "named backreferences"),
    ],
)
def test_patterns_a_linear_engine_cannot_run_are_refused_naming_the_construct(
    pattern: str, construct: str
) -> None:
    with pytest.raises(ValidationFailed) as err:
        parse_filter(
            {
                "conditionMatchType": "match-all-conditions",
                "conditions": [cond("message", "matches", pattern)],
            }
        )
    assert construct in err.value.message
    assert "linear-time" in err.value.message
    assert err.value.details["source"]["pointer"] == "/filter/conditions/0/expectedValue"


def test_past_the_budget_a_pattern_is_not_run_and_does_not_hold() -> None:
    flt = parse_filter(
        {
            "conditionMatchType": "match-any-condition",
            "conditions": [cond("text", "matches", f"x{n}") for n in range(10)],
        }
    )
    budget = Budget(max_evaluations=3)
    explanation = filters.explain(flt, {"text": "y" * 10}, budget)
    assert explanation.matched is False
    reasons = [c.reason for c in explanation.conditions]
    assert sum("does not match" in r for r in reasons) == 3
    assert all("budget was spent" in r for r in reasons[3:])


def test_round_trip_keeps_every_condition_field() -> None:
    raw = {
        "conditionMatchType": "match-any-condition",
        "conditions": [
            {
                "field": "extra-properties",
                "key": "region",
                "operation": "equals",
                "expectedValue": "eu",
                "not": True,
                "order": 3,
                "systemCondition": True,
            }
        ],
    }
    data = parse_filter(raw).to_json()
    assert data["conditionsEmpty"] is False
    assert data["conditions"][0] == {**raw["conditions"][0]}
