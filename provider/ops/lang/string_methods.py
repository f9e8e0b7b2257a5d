"""The JSM string processing methods a ``{{…}}`` template may call, and what they take.

``subject.substringAfter("Host:").trim()``: each method gets the text so far and its literal
arguments (strings, integers, ``/regex/``). Regex methods run on RE2 within the render's
:class:`RenderBudget`, and every method refuses to build output past the size cap.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from typing import Any

from provider.ops.lang import regex as tenant_regex
from provider.ops.lang.fields import as_text
from provider.ops.lang.regex import Budget
from provider.ops.lang.regex import BudgetSpent
from provider.ops.lang.regex import RegexError

MAX_OUTPUT_LENGTH = 100_000
#: JSM returns the string "null" when a regex method cannot finish.
REGEX_GAVE_UP = "null"
DEFAULT_DATE_FORMAT = "yyyy-MM-dd HH:mm:ss ZZZ"


class TemplateError(Exception):
    """An expression cannot be evaluated; the message is shown to the user."""


@dataclass(frozen=True, slots=True)
class RegexLiteral:
    """A ``/…/`` argument."""

    pattern: str


@dataclass(slots=True)
class RenderBudget:
    """What one render may spend (the alert's or request's pattern budget) and what went wrong."""

    patterns: Budget = field(default_factory=Budget)
    errors: list[str] = field(default_factory=list)


def check_arguments(name: str, args: tuple[Any, ...], kinds: tuple[tuple[type, ...], ...]) -> None:
    low = sum(1 for k in kinds if type(None) not in k)
    if not low <= len(args) <= len(kinds):
        expected = f"{low}" if low == len(kinds) else f"{low} to {len(kinds)}"
        raise TemplateError(f"{name}() takes {expected} arguments, got {len(args)}")
    for arg, kind in zip(args, kinds, strict=False):
        if not isinstance(arg, kind):
            raise TemplateError(f"{name}() got an argument of the wrong kind: {arg!r}")


_S = (str,)
_I = (int,)
_R = (RegexLiteral, str)
_OPT_S = (str, type(None))
_OPT_I = (int, type(None))


def _to_lower(text: str, args: tuple[Any, ...], _b: RenderBudget) -> str:
    return text.lower()


def _to_upper(text: str, args: tuple[Any, ...], _b: RenderBudget) -> str:
    return text.upper()


def _trim(text: str, args: tuple[Any, ...], _b: RenderBudget) -> str:
    return text.strip()


def _remove_all_whitespace(text: str, args: tuple[Any, ...], _b: RenderBudget) -> str:
    return "".join(text.split())


def _length(text: str, args: tuple[Any, ...], _b: RenderBudget) -> str:
    return str(len(text))


def _substring(text: str, args: tuple[Any, ...], _b: RenderBudget) -> str:
    start = max(0, min(args[0], len(text)))
    end = len(text) if len(args) < 2 else max(start, min(args[1], len(text)))
    return text[start:end]


def _substring_after(text: str, args: tuple[Any, ...], _b: RenderBudget) -> str:
    _head, sep, tail = text.partition(args[0])
    return tail if sep else ""


def _substring_after_last(text: str, args: tuple[Any, ...], _b: RenderBudget) -> str:
    _head, sep, tail = text.rpartition(args[0])
    return tail if sep else ""


def _substring_before(text: str, args: tuple[Any, ...], _b: RenderBudget) -> str:
    return text.partition(args[0])[0]


def _substring_before_last(text: str, args: tuple[Any, ...], _b: RenderBudget) -> str:
    head, sep, _tail = text.rpartition(args[0])
    return head if sep else text


def _substring_between(text: str, args: tuple[Any, ...], _b: RenderBudget) -> str:
    opener = args[0]
    closer = args[1] if len(args) > 1 else args[0]
    _head, sep, tail = text.partition(opener)
    if not sep:
        return ""
    inner, sep2, _rest = tail.partition(closer)
    return inner if sep2 else ""


def _extract(text: str, args: tuple[Any, ...], budget: RenderBudget) -> str:
    pattern = _pattern_text(args[0])
    compiled = _compile(pattern)
    try:
        m = tenant_regex.search(pattern, text, budget.patterns)
    except BudgetSpent as e:
        budget.errors.append(f"extract() not run: {e}")
        return REGEX_GAVE_UP
    if m is None:
        return ""
    group = args[1] if len(args) > 1 else (1 if compiled.groups else 0)
    if not 0 <= group <= compiled.groups:
        raise TemplateError(f"extract() has no group {group}")
    return m.group(group) or ""


def _replace(text: str, args: tuple[Any, ...], _b: RenderBudget) -> str:
    old, new = args
    if not old:
        raise TemplateError("replace() needs a non-empty text to replace")
    # Refuse before building the string: a short template can otherwise ask for gigabytes.
    if len(text) + text.count(old) * (len(new) - len(old)) > MAX_OUTPUT_LENGTH:
        raise TemplateError(f"output is longer than {MAX_OUTPUT_LENGTH} characters")
    return text.replace(old, new)


_JAVA_GROUP = re.compile(r"\$(\d+|\{\w+\})")


def _replace_all(text: str, args: tuple[Any, ...], budget: RenderBudget) -> str:
    pattern = _pattern_text(args[0])
    _compile(pattern)
    # Java writes group references as $1 / ${name}; Python's expand wants \g<1>.
    replacement = _JAVA_GROUP.sub(lambda m: "\\g<" + m.group(1).strip("{}") + ">", args[1])
    size = [len(text)]

    def expand(m: Any) -> str:
        piece: str = m.expand(replacement)
        size[0] += len(piece) - (m.end() - m.start())
        if size[0] > MAX_OUTPUT_LENGTH:
            raise TemplateError(f"output is longer than {MAX_OUTPUT_LENGTH} characters")
        return piece

    try:
        replaced: str = tenant_regex.sub(pattern, expand, text, budget.patterns)
        return replaced
    except BudgetSpent as e:
        budget.errors.append(f"replaceAll() not run: {e}")
        return REGEX_GAVE_UP
    except (re.error, IndexError) as e:
        raise TemplateError(f"replaceAll() replacement is invalid: {e}") from None


def _to_date(value: Any, args: tuple[Any, ...], _b: RenderBudget) -> str:
    fmt = args[0] if args else DEFAULT_DATE_FORMAT
    tz_name = args[1] if len(args) > 1 else "GMT"
    try:
        tz = UTC if tz_name.upper() in ("GMT", "UTC", "Z") else zoneinfo.ZoneInfo(tz_name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise TemplateError(f"toDate() does not know the time zone {tz_name!r}") from None
    moment = _timestamp(value)
    if moment is None:
        raise TemplateError(f"toDate() needs a timestamp in milliseconds, got {as_text(value)!r}")
    return java_date_format(moment.astimezone(tz), fmt)


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, bool) or value is None:
        return None
    number: float | None = None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                return None
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if number is None or not -(10**15) < number < 10**15:
        return None
    return datetime.fromtimestamp(number / 1000.0, UTC)


_JAVA_TOKEN = re.compile(r"'[^']*'|''|([A-Za-z])\1*")
# The pattern letters that are a number, zero-padded to as many digits as the letter is repeated.
_JAVA_NUMBERS: dict[str, Callable[[datetime], int]] = {
    "d": lambda moment: moment.day,
    "H": lambda moment: moment.hour,
    "h": lambda moment: (moment.hour % 12) or 12,
    "m": lambda moment: moment.minute,
    "s": lambda moment: moment.second,
}


def java_date_format(moment: datetime, fmt: str) -> str:
    """Format a datetime with a Java ``SimpleDateFormat`` pattern (the common letters)."""
    if len(fmt) > 200:
        raise TemplateError("toDate() format is longer than 200 characters")

    def token(m: re.Match[str]) -> str:
        text = m.group(0)
        if text == "''":
            return "'"
        if text.startswith("'"):
            return text[1:-1]
        letter, n = text[0], len(text)
        if letter == "y":
            return f"{moment.year % 100:02d}" if n == 2 else f"{moment.year:0{n}d}"
        if letter == "M":
            if n >= 4:
                return moment.strftime("%B")
            if n == 3:
                return moment.strftime("%b")
            return f"{moment.month:0{n}d}"
        if letter in _JAVA_NUMBERS:
            return f"{_JAVA_NUMBERS[letter](moment):0{n}d}"
        if letter == "S":
            return (
                f"{moment.microsecond // 1000:03d}"[:n]
                if n <= 3
                else f"{moment.microsecond // 1000:0{n}d}"
            )
        if letter == "E":
            return moment.strftime("%A" if n >= 4 else "%a")
        if letter == "a":
            return "AM" if moment.hour < 12 else "PM"
        if letter == "z":
            return moment.tzname() or "GMT"
        if letter == "Z":
            return moment.strftime("%z") or "+0000"
        if letter == "X":
            offset = moment.strftime("%z")
            return "Z" if offset in ("", "+0000") else offset
        raise TemplateError(f"toDate() does not support the pattern letter {letter!r}")

    return _JAVA_TOKEN.sub(token, fmt)


def _pattern_text(arg: RegexLiteral | str) -> str:
    return arg.pattern if isinstance(arg, RegexLiteral) else arg


def _compile(pattern: str) -> Any:
    try:
        return tenant_regex.compile_pattern(pattern)
    except RegexError as e:
        raise TemplateError(f"invalid regex /{pattern}/: {e}") from None


def pattern_problem(arg: RegexLiteral | str) -> str | None:
    """Why a regex argument cannot run, or ``None``."""
    return tenant_regex.check_pattern(_pattern_text(arg))


SIGNATURES: dict[str, tuple[tuple[type, ...], ...]] = {
    "toLowerCase": (),
    "toUpperCase": (),
    "trim": (),
    "removeAllWhitespace": (),
    "length": (),
    "substring": (_I, _OPT_I),
    "substringAfter": (_S,),
    "substringAfterLast": (_S,),
    "substringBefore": (_S,),
    "substringBeforeLast": (_S,),
    "substringBetween": (_S, _OPT_S),
    "extract": (_R, _OPT_I),
    "replace": (_S, _S),
    "replaceAll": (_R, _S),
    "toDate": (_OPT_S, _OPT_S),
}

Method = Callable[[Any, tuple[Any, ...], RenderBudget], str]
METHODS: dict[str, Method] = {
    "toLowerCase": _to_lower,
    "toUpperCase": _to_upper,
    "trim": _trim,
    "removeAllWhitespace": _remove_all_whitespace,
    "length": _length,
    "substring": _substring,
    "substringAfter": _substring_after,
    "substringAfterLast": _substring_after_last,
    "substringBefore": _substring_before,
    "substringBeforeLast": _substring_before_last,
    "substringBetween": _substring_between,
    "extract": _extract,
    "replace": _replace,
    "replaceAll": _replace_all,
    "toDate": _to_date,
}

METHOD_NAMES = tuple(METHODS)
