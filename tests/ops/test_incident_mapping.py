"""Component mapping, Jira issue keys and promotion decisions (pure rules)."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest

from provider.ops.incidents.facts import AlertFacts
from provider.ops.incidents.facts import higher_priority
from provider.ops.incidents.mapping import MappingRule
from provider.ops.incidents.mapping import MatchType
from provider.ops.incidents.mapping import issue_keys
from provider.ops.incidents.mapping import resolve_component_ids
from provider.ops.incidents.mapping import validate_pattern
from provider.ops.incidents.rules import DEFAULT_RULES
from provider.ops.incidents.rules import RuleAction
from provider.ops.incidents.rules import RuleSpec
from provider.ops.incidents.rules import Verdict
from provider.ops.incidents.rules import decide

T0 = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)
BY_NAME = {"checkout": 1, "search": 2, "db-primary": 3}
FALLBACK = 99


def facts(**kw: Any) -> AlertFacts:
    values: dict[str, Any] = {
        "id": 1,
        "public_id": "a1",
        "workspace_id": 1,
        "message": "boom",
        "priority": "P3",
        "created_at": T0,
    }
    values.update(kw)
    return AlertFacts(**values)


@pytest.mark.parametrize(
    ("alert", "expected"),
    [
        (facts(tags=("component:checkout",)), [1]),
        (facts(tags=("Service:Search", "component:checkout")), [2, 1]),
        (facts(details={"service": "search"}), [2]),
        (facts(details={"component": "CHECKOUT"}), [1]),
        (facts(entity="db-primary"), [3]),
        (facts(entity="unknown-host", tags=("component:nope",)), [FALLBACK]),
        (facts(), [FALLBACK]),
    ],
)
def test_conventions_then_fallback(alert: AlertFacts, expected: list[int]) -> None:
    assert resolve_component_ids(alert, [], BY_NAME, FALLBACK) == expected


def test_rules_are_ordered_and_win_over_conventions() -> None:
    rules = [
        MappingRule(MatchType.ENTITY, "web-01", 2),
        MappingRule(MatchType.TAG, "payments", 3),
        MappingRule(MatchType.EXTRA_PROPERTY, "eu", 1, key="region"),
        MappingRule(MatchType.ENTITY_REGEX, r"^web-\d+$", 1),
    ]
    assert resolve_component_ids(facts(entity="web-01"), rules, BY_NAME, FALLBACK) == [2]
    assert resolve_component_ids(facts(entity="web-02"), rules, BY_NAME, FALLBACK) == [1]
    assert resolve_component_ids(
        facts(tags=("payments", "component:search")), rules, BY_NAME, FALLBACK
    ) == [3]
    assert resolve_component_ids(facts(details={"region": "eu"}), rules, BY_NAME, FALLBACK) == [1]
    assert resolve_component_ids(facts(entity="db-primary"), rules, BY_NAME, FALLBACK) == [3]


def test_bad_patterns_are_reported() -> None:
    assert validate_pattern("(") is not None
    assert validate_pattern("a" * 600) is not None
    assert validate_pattern(r"^web-\d+$") is None


def test_issue_keys_from_tags_and_properties() -> None:
    alert = facts(
        tags=("jira:OPS-12", "jira:ops-13, OPS-12", "jira:not a key"),
        details={"jiraIssue": "SHOP-1", "jira": "10001", "other": "X-1"},
    )
    assert issue_keys(alert) == ["OPS-12", "OPS-13", "SHOP-1", "10001"]
    assert issue_keys(facts(tags=("jira:",))) == []


def test_severity_ordering() -> None:
    assert higher_priority("P3", "P1") == "P1"
    assert higher_priority("P2", None) == "P2"
    assert higher_priority(None, "P5") == "P5"


@pytest.mark.parametrize("priority", ["P1", "P2"])
def test_default_rules_open_p1_p2_at_once(priority: str) -> None:
    assert decide(facts(priority=priority), DEFAULT_RULES, T0).verdict is Verdict.OPEN


def test_default_rules_open_p3_after_count_or_fifteen_minutes_unacknowledged() -> None:
    waiting = decide(facts(priority="P3"), DEFAULT_RULES, T0 + timedelta(minutes=14))
    assert waiting.verdict is Verdict.WAIT
    assert waiting.due_at == T0 + timedelta(minutes=15)
    assert decide(facts(priority="P3", count=3), DEFAULT_RULES, T0).verdict is Verdict.OPEN
    late = decide(facts(priority="P3"), DEFAULT_RULES, T0 + timedelta(minutes=15))
    assert late.verdict is Verdict.OPEN
    acked = decide(facts(priority="P3", acknowledged=True), DEFAULT_RULES, T0 + timedelta(hours=1))
    assert acked.verdict is Verdict.WAIT
    assert acked.due_at is None


@pytest.mark.parametrize("priority", ["P4", "P5"])
def test_default_rules_never_open_p4_p5(priority: str) -> None:
    later = T0 + timedelta(days=1)
    assert (
        decide(facts(priority=priority, count=1000), DEFAULT_RULES, later).verdict is Verdict.NEVER
    )


def test_first_matching_rule_wins_and_filters_apply() -> None:
    rules = [
        RuleSpec(name="quiet staging", filter={"env": "staging"}, action=RuleAction.SUPPRESS),
        *DEFAULT_RULES,
    ]

    def matches(condition: Any, alert: AlertFacts) -> bool:
        return condition is None or alert.details.get("env") == condition["env"]

    staging = facts(priority="P1", details={"env": "staging"})
    assert decide(staging, rules, T0, matches=matches).verdict is Verdict.NEVER
    assert decide(facts(priority="P1"), rules, T0, matches=matches).verdict is Verdict.OPEN
