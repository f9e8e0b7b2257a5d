"""Which components an alert affects, and which Jira issues it names.

Resolution order: the workspace's component-mapping rules (first match wins), then conventions
(``component:<name>`` / ``service:<name>`` tags, ``component`` / ``service`` extra properties, an
entity equal to a component's name), then the workspace's fallback component, so an incident
always names at least one component (Jira requires ``affectedComponents``).
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass

from provider.ops.incidents.facts import AlertFacts
from provider.ops.lang import regex as tenant_regex
from provider.ops.lang.regex import Budget

logger = logging.getLogger(__name__)

MAX_PATTERN_LENGTH = 512
MAX_ISSUE_KEYS = 100
CONVENTION_TAG_PREFIXES = ("component:", "service:")
CONVENTION_PROPERTIES = ("component", "service")
ISSUE_TAG_PREFIX = "jira:"
ISSUE_PROPERTIES = ("jiraIssue", "jira", "jiraIssues")
_ISSUE_KEY = re.compile(r"^(?:[A-Z][A-Z0-9_]{0,254}-[1-9][0-9]{0,17}|[1-9][0-9]{0,17})$")


class MatchType(enum.StrEnum):
    ENTITY = "entity"  # entity equals value
    TAG = "tag"  # the alert has the tag value
    EXTRA_PROPERTY = "extraProperty"  # details[key] equals value
    ENTITY_REGEX = "entityRegex"  # value (a regex) matches the entity


@dataclass(frozen=True, slots=True)
class MappingRule:
    match_type: MatchType
    value: str
    component_id: int
    key: str | None = None


def validate_pattern(pattern: str) -> str | None:
    """An error message for an unusable regex, or None."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"must be at most {MAX_PATTERN_LENGTH} characters"
    why = tenant_regex.check_pattern(pattern)
    return None if why is None else f"is not a valid regular expression ({why})"


def rule_matches(rule: MappingRule, alert: AlertFacts, budget: Budget | None = None) -> bool:
    """Does ``rule`` pick this alert? Past the pattern budget, an entityRegex rule does not."""
    if rule.match_type is MatchType.ENTITY:
        return alert.entity is not None and alert.entity == rule.value
    if rule.match_type is MatchType.TAG:
        return rule.value in alert.tags
    if rule.match_type is MatchType.EXTRA_PROPERTY:
        return rule.key is not None and alert.details.get(rule.key) == rule.value
    if rule.match_type is MatchType.ENTITY_REGEX:
        if not alert.entity:
            return False
        try:
            found = tenant_regex.search(
                rule.value, alert.entity, budget if budget is not None else Budget()
            )
        except (tenant_regex.RegexError, tenant_regex.BudgetSpent) as e:
            logger.warning("component mapping regex skipped: %s", e)
            return False
        return found is not None
    return False


def convention_names(alert: AlertFacts) -> list[str]:
    """Component names the alert itself names, in the order it names them."""
    names: list[str] = []
    for tag in alert.tags:
        lowered = tag.lower()
        for prefix in CONVENTION_TAG_PREFIXES:
            if lowered.startswith(prefix) and tag[len(prefix) :].strip():
                names.append(tag[len(prefix) :].strip())
    for key in CONVENTION_PROPERTIES:
        value = alert.details.get(key)
        if isinstance(value, str) and value.strip():
            names.append(value.strip())
    if alert.entity and alert.entity.strip():
        names.append(alert.entity.strip())
    return names


def resolve_component_ids(
    alert: AlertFacts,
    rules: Sequence[MappingRule],
    component_ids_by_name: Mapping[str, int],
    fallback_id: int,
    budget: Budget | None = None,
) -> list[int]:
    """The ids of the components ``alert`` affects; never empty.

    :param component_ids_by_name: the workspace's components the alert names (at least), keyed
        by lower-cased name.
    :param budget: the alert's pattern budget, shared by every rule.
    """
    budget = budget if budget is not None else Budget()
    for rule in rules:
        if rule_matches(rule, alert, budget):
            return [rule.component_id]
    found: list[int] = []
    for name in convention_names(alert):
        component_id = component_ids_by_name.get(name.lower())
        if component_id is not None and component_id not in found:
            found.append(component_id)
    return found or [fallback_id]


def _split_keys(value: str) -> Iterable[str]:
    return (part.strip() for part in re.split(r"[\s,;]+", value) if part.strip())


def issue_keys(alert: AlertFacts) -> list[str]:
    """Jira issue keys (or ids) named on the alert: ``jira:OPS-12`` tags, ``jiraIssue`` properties."""
    candidates: list[str] = []
    for tag in alert.tags:
        if tag.lower().startswith(ISSUE_TAG_PREFIX):
            candidates.extend(_split_keys(tag[len(ISSUE_TAG_PREFIX) :]))
    for key in ISSUE_PROPERTIES:
        value = alert.details.get(key)
        if isinstance(value, str):
            candidates.extend(_split_keys(value))
    keys: list[str] = []
    for candidate in candidates:
        upper = candidate.upper()
        if _ISSUE_KEY.match(upper) and upper not in keys:
            keys.append(upper)
    return keys[:MAX_ISSUE_KEYS]


def merge_keys(existing: Sequence[str], new: Iterable[str]) -> list[str]:
    merged = list(existing)
    for key in new:
        if key not in merged and len(merged) < MAX_ISSUE_KEYS:
            merged.append(key)
    return merged
