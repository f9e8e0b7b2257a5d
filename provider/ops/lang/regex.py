"""The regular expressions tenants write (filters, component mappings, templates), on RE2.

RE2 matches in time linear in the text, whatever the pattern: ``(a|aa)+$`` against a long run of
``a`` costs what any pattern does, so no tenant's pattern can hold a worker or a web thread.
What RE2 cannot run (backreferences, lookaround, atomic groups, possessive quantifiers,
conditionals) is refused when the pattern is saved, with the construct named.

Linear is not free: a :class:`Budget` caps what one alert or one request may spend on a
tenant's patterns (evaluations and characters scanned), so the cost of a configuration is
bounded whatever it contains. When it runs out, further matches answer "no match" and the
caller records why.
"""

from __future__ import annotations

import functools
import re as stdlib_re
import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import re2

MAX_PATTERN_LENGTH = 1000
# Whole-text scans one alert (or one request) may make through tenant patterns, and the
# characters they may read: generous for any real configuration, small for a hostile one.
MAX_EVALUATIONS = 2_000
MAX_CHARACTERS = 4_000_000
MAX_SECONDS = 0.5

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a refused pattern is the tenant's mistake, not the server's
_OPTIONS.max_mem = 8 << 20

# RE2's messages name the operator; a person wants to know what to change.
_UNSUPPORTED = (
    ("(?=", "lookahead (?=…)"),
    ("(?!", "negative lookahead (?!…)"),
    ("(?<=", "lookbehind (?<=…)"),
    ("(?<!", "negative lookbehind (?<!…)"),
    ("(?>", "atomic groups (?>…)"),
    ("(?P=", "named backreferences (?P=name)"),
    ("(?(", "conditionals (?(…)…)"),
    ("\\k", "named backreferences \\k<name>"),
    ("++", "possessive quantifiers (++)"),
    ("*+", "possessive quantifiers (*+)"),
    ("?+", "possessive quantifiers (?+)"),
)


class RegexError(ValueError):
    """A pattern this engine will not run; the message says why, for a person."""


Pattern = Any  # re2's compiled pattern type is not exported under a stable name


_BACKREFERENCE = stdlib_re.compile(r"\\[1-9]")
_LINEAR = "are not supported: patterns run on a linear-time engine (RE2)"


def _explain(pattern: str, error: Exception) -> str:
    reason = error.args[0] if error.args else error
    text = reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
    backreference = _BACKREFERENCE.search(pattern)
    if backreference and "escape" in text:
        return f"backreferences ({backreference.group(0)}) {_LINEAR}"
    for marker, construct in _UNSUPPORTED:
        if marker in pattern:
            return f"{construct} {_LINEAR}"
    return text


@functools.lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> Pattern:
    """Compile a tenant's pattern (cached).

    :raises RegexError: for a pattern too long, malformed, or using what RE2 cannot run.
    """
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise RegexError(f"pattern is longer than {MAX_PATTERN_LENGTH} characters")
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as e:
        raise RegexError(_explain(pattern, e)) from None


def check_pattern(pattern: str) -> str | None:
    """Why ``pattern`` cannot be saved, or ``None`` when it can."""
    try:
        compile_pattern(pattern)
    except RegexError as e:
        return str(e)
    return None


@dataclass
class Budget:
    """What one alert or one request may spend on tenant patterns."""

    max_evaluations: int = MAX_EVALUATIONS
    max_characters: int = MAX_CHARACTERS
    max_seconds: float = MAX_SECONDS
    clock: Callable[[], float] = time.monotonic
    evaluations: int = 0
    characters: int = 0
    started: float = field(default=-1.0)
    exhausted: bool = False

    def charge(self, text: str) -> bool:
        """Pay for one scan of ``text``; ``False`` (and from then on) once the budget is spent."""
        if self.exhausted:
            return False
        now = self.clock()
        if self.started < 0:
            self.started = now
        self.evaluations += 1
        self.characters += len(text)
        if (
            self.evaluations > self.max_evaluations
            or self.characters > self.max_characters
            or now - self.started > self.max_seconds
        ):
            self.exhausted = True
            return False
        return True

    def reason(self) -> str:
        return (
            f"the evaluation budget was spent ({self.evaluations} pattern evaluations, "
            f"{self.characters} characters)"
        )


class BudgetSpent(Exception):
    """A match was not run because the budget of this alert or request is spent."""


def fullmatch(pattern: str, text: str, budget: Budget) -> bool:
    """Whole-string match, as Java's ``String.matches`` does.

    :raises RegexError: for a pattern that cannot run. :raises BudgetSpent:
    """
    compiled = compile_pattern(pattern)
    if not budget.charge(text):
        raise BudgetSpent(budget.reason())
    return compiled.fullmatch(text) is not None


def search(pattern: str, text: str, budget: Budget) -> Any:
    """The first match of ``pattern`` in ``text``, or ``None``.

    :raises RegexError: :raises BudgetSpent:
    """
    compiled = compile_pattern(pattern)
    if not budget.charge(text):
        raise BudgetSpent(budget.reason())
    return compiled.search(text)


def sub(pattern: str, replace: Callable[[Any], str], text: str, budget: Budget) -> str:
    """``text`` with every match replaced by ``replace(match)``.

    :raises RegexError: :raises BudgetSpent:
    """
    compiled = compile_pattern(pattern)
    if not budget.charge(text):
        raise BudgetSpent(budget.reason())
    result: str = compiled.sub(replace, text)
    return result
