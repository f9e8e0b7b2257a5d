"""Promotion rules: when an alert opens (or joins) an incident.

Rules are ordered; the first enabled rule whose filter and priority bound match the alert decides.
A rule promotes at once, or once the alert's count reaches a threshold or it stays unacknowledged
for a duration, or never (``suppress``). When no rule matches, the alert stays an alert.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any

from provider.ops.incidents.facts import AlertFacts
from provider.ops.incidents.facts import priority_rank

DEFAULT_P3_COUNT = 3
DEFAULT_P3_UNACKNOWLEDGED = timedelta(minutes=15)


class RuleAction(enum.StrEnum):
    PROMOTE = "promote"
    SUPPRESS = "suppress"


class ResolvePolicy(enum.StrEnum):
    LAST_ALERT_CLOSED = "lastAlertClosed"
    FIRST_ALERT_CLOSED = "firstAlertClosed"
    MANUAL = "manual"


class Verdict(enum.StrEnum):
    OPEN = "open"  # open an incident now (or join the component's open one)
    WAIT = "wait"  # a threshold may still be reached; ``due_at`` says when time alone will do it
    NEVER = "never"


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A promotion rule as the decision needs it (stored rules and the default ones alike)."""

    name: str
    min_priority: str = "P5"
    filter: Mapping[str, Any] | None = None
    count_threshold: int | None = None
    unacknowledged_for: timedelta | None = None
    action: RuleAction = RuleAction.PROMOTE
    resolve_policy: ResolvePolicy = ResolvePolicy.LAST_ALERT_CLOSED
    rule_id: int | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    rule: RuleSpec | None = None
    due_at: datetime | None = None
    reason: str = ""


DEFAULT_RULES: tuple[RuleSpec, ...] = (
    RuleSpec(name="P1 and P2 open an incident at once", min_priority="P2"),
    RuleSpec(
        name="P3 opens an incident when repeated or left unacknowledged",
        min_priority="P3",
        count_threshold=DEFAULT_P3_COUNT,
        unacknowledged_for=DEFAULT_P3_UNACKNOWLEDGED,
    ),
)

FilterMatcher = Callable[[Mapping[str, Any] | None, AlertFacts], bool]


def match_everything(condition: Mapping[str, Any] | None, alert: AlertFacts) -> bool:
    return True


def decide(
    alert: AlertFacts,
    rules: Sequence[RuleSpec],
    now: datetime,
    *,
    matches: FilterMatcher = match_everything,
) -> Decision:
    """Decide what ``alert`` means for incidents at ``now``; the first matching rule wins."""
    for rule in rules:
        if priority_rank(alert.priority) > priority_rank(rule.min_priority):
            continue
        if not matches(rule.filter, alert):
            continue
        if rule.action is RuleAction.SUPPRESS:
            return Decision(Verdict.NEVER, rule, reason=f"suppressed by rule {rule.name!r}")
        if rule.count_threshold is None and rule.unacknowledged_for is None:
            return Decision(Verdict.OPEN, rule, reason=f"{alert.priority} matches {rule.name!r}")
        if rule.count_threshold is not None and alert.count >= rule.count_threshold:
            return Decision(
                Verdict.OPEN, rule, reason=f"count {alert.count} reached {rule.count_threshold}"
            )
        if rule.unacknowledged_for is not None and not alert.acknowledged:
            due = alert.created_at + rule.unacknowledged_for
            if now >= due:
                return Decision(Verdict.OPEN, rule, reason="left unacknowledged")
            return Decision(Verdict.WAIT, rule, due_at=due, reason="waiting for a threshold")
        return Decision(Verdict.WAIT, rule, reason="waiting for the count threshold")
    return Decision(Verdict.NEVER, reason="no promotion rule matches")
