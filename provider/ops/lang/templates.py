"""``{{…}}`` field-mapping templates with the JSM string processing methods.

A hand-written parser rather than a general template engine: an expression is a field path
followed by calls of whitelisted string methods (``{{subject.substringAfter("Host:").trim()}}``),
with string, integer and ``/regex/`` literals as the only arguments. There is no attribute access
to anything but payload data, so no template can reach Python objects; every render runs under a
time budget, regexes under a timeout, and output under a size cap. A broken expression renders as
a visible ``[template error: …]`` marker and is reported, so an alert is never dropped for it.
"""

from __future__ import annotations

import re
import time
import zoneinfo
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from typing import Any

import regex

from provider.ops.lang.filters import as_text
from provider.ops.lang.filters import is_missing
from provider.ops.lang.filters import resolve_field

MAX_TEMPLATE_LENGTH = 10_000
MAX_OUTPUT_LENGTH = 100_000
MAX_EXPRESSIONS = 100
MAX_CALLS_PER_EXPRESSION = 20
RENDER_BUDGET_SECONDS = 2.0
REGEX_TIMEOUT_SECONDS = 1.0
#: JSM returns the string "null" when a regex method runs out of time.
REGEX_TIMEOUT_RESULT = "null"
DEFAULT_DATE_FORMAT = "yyyy-MM-dd HH:mm:ss ZZZ"

_EXPRESSION = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


class TemplateError(Exception):
    """An expression cannot be evaluated; the message is shown to the user."""


@dataclass(slots=True)
class Rendered:
    text: str
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(slots=True)
class _Budget:
    deadline: float
    errors: list[str]

    def regex_timeout(self) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TemplateError(f"render took longer than {RENDER_BUDGET_SECONDS:g}s")
        return min(REGEX_TIMEOUT_SECONDS, remaining)

    def check(self) -> None:
        if time.monotonic() > self.deadline:
            raise TemplateError(f"render took longer than {RENDER_BUDGET_SECONDS:g}s")


# ---------------------------------------------------------------------------------------------
# Parsing


@dataclass(frozen=True, slots=True)
class _Regex:
    pattern: str


@dataclass(frozen=True, slots=True)
class _Call:
    name: str
    args: tuple[str | int | _Regex, ...]


@dataclass(frozen=True, slots=True)
class _Expr:
    path: str
    calls: tuple[_Call, ...]


_IDENT = re.compile(r"[A-Za-z_$][\w$-]*|\d+")


class _Parser:
    def __init__(self, source: str) -> None:
        self.src = source
        self.pos = 0

    def error(self, message: str) -> TemplateError:
        return TemplateError(f"{message} at position {self.pos} of {self.src.strip()!r}")

    def skip_ws(self) -> None:
        while self.pos < len(self.src) and self.src[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        return self.src[self.pos] if self.pos < len(self.src) else ""

    def ident(self) -> str:
        m = _IDENT.match(self.src, self.pos)
        if not m:
            raise self.error("expected a field name")
        self.pos = m.end()
        name = m.group(0)
        if name.startswith("__"):
            raise TemplateError(f"access to {name!r} is not allowed")
        return name

    def parse(self) -> _Expr:
        self.skip_ws()
        segments = [self.ident()]
        calls: list[_Call] = []
        while True:
            self.skip_ws()
            if self.peek() == "":
                break
            if self.peek() != ".":
                raise self.error(f"unexpected {self.peek()!r}")
            self.pos += 1
            self.skip_ws()
            name = self.ident()
            self.skip_ws()
            if self.peek() == "(":
                self.pos += 1
                calls.append(_Call(name, self.args()))
                if len(calls) > MAX_CALLS_PER_EXPRESSION:
                    raise TemplateError(f"more than {MAX_CALLS_PER_EXPRESSION} method calls")
            elif calls:
                raise self.error(f"{name!r} after a method call must be a method call too")
            else:
                segments.append(name)
        return _Expr(".".join(segments), tuple(calls))

    def args(self) -> tuple[str | int | _Regex, ...]:
        out: list[str | int | _Regex] = []
        self.skip_ws()
        if self.peek() == ")":
            self.pos += 1
            return ()
        while True:
            self.skip_ws()
            out.append(self.literal())
            self.skip_ws()
            ch = self.peek()
            self.pos += 1
            if ch == ")":
                return tuple(out)
            if ch != ",":
                self.pos -= 1
                raise self.error("expected ',' or ')'")

    def literal(self) -> str | int | _Regex:
        ch = self.peek()
        if ch in ("'", '"'):
            return self.quoted(ch)
        if ch == "/":
            return _Regex(self.quoted("/", keep_escapes=True))
        m = re.compile(r"-?\d{1,9}").match(self.src, self.pos)
        if m:
            self.pos = m.end()
            return int(m.group(0))
        raise self.error("expected a string, number or /regex/ argument")

    def quoted(self, quote: str, *, keep_escapes: bool = False) -> str:
        self.pos += 1
        buf: list[str] = []
        while self.pos < len(self.src):
            ch = self.src[self.pos]
            if ch == "\\" and self.pos + 1 < len(self.src):
                nxt = self.src[self.pos + 1]
                # In a regex only an escaped delimiter loses its backslash; \S, \d… stay as they are.
                buf.append(nxt if (not keep_escapes or nxt == quote) else "\\" + nxt)
                self.pos += 2
                continue
            if ch == quote:
                self.pos += 1
                return "".join(buf)
            buf.append(ch)
            self.pos += 1
        raise self.error("unterminated literal")


def parse_expression(source: str) -> _Expr:
    """:raises TemplateError: when the text between ``{{`` and ``}}`` is not a valid expression."""
    return _Parser(source).parse()


def check_template(template: str) -> list[str]:
    """Return the problems of a template without rendering it (used at configuration time)."""
    problems: list[str] = []
    if len(template) > MAX_TEMPLATE_LENGTH:
        return [f"template is longer than {MAX_TEMPLATE_LENGTH} characters"]
    expressions = _EXPRESSION.findall(template)
    if len(expressions) > MAX_EXPRESSIONS:
        return [f"template has more than {MAX_EXPRESSIONS} expressions"]
    for source in expressions:
        try:
            expr = parse_expression(source)
        except TemplateError as e:
            problems.append(str(e))
            continue
        for call in expr.calls:
            if call.name not in _METHODS:
                problems.append(f"unknown method {call.name}()")
                continue
            try:
                _need(call.name, call.args, _SIGNATURES[call.name])
            except TemplateError as e:
                problems.append(str(e))
                continue
            if call.name in ("extract", "replaceAll"):
                pattern = call.args[0]
                text = pattern.pattern if isinstance(pattern, _Regex) else str(pattern)
                try:
                    _compile(text)
                except regex.error as e:
                    problems.append(f"invalid regex in {call.name}(): {e}")
    return problems


# ---------------------------------------------------------------------------------------------
# Rendering


def render(template: str, context: Mapping[str, Any]) -> Rendered:
    """Render a template against a payload context; never raises for a bad template."""
    if not isinstance(template, str):
        return Rendered(as_text(template))
    if "{{" not in template:
        return Rendered(template[:MAX_OUTPUT_LENGTH])
    if len(template) > MAX_TEMPLATE_LENGTH:
        message = f"template is longer than {MAX_TEMPLATE_LENGTH} characters"
        return Rendered(_marker(message), [message])
    budget = _Budget(time.monotonic() + RENDER_BUDGET_SECONDS, [])
    out: list[str] = []
    size = 0
    last = 0
    for count, m in enumerate(_EXPRESSION.finditer(template)):
        out.append(template[last : m.start()])
        size += m.start() - last
        last = m.end()
        if count >= MAX_EXPRESSIONS:
            message = f"template has more than {MAX_EXPRESSIONS} expressions"
            budget.errors.append(message)
            out.append(_marker(message))
            break
        try:
            value = _evaluate(parse_expression(m.group(1)), context, budget)
        except TemplateError as e:
            budget.errors.append(str(e))
            value = _marker(str(e))
        size += len(value)
        if size > MAX_OUTPUT_LENGTH:
            message = f"output is longer than {MAX_OUTPUT_LENGTH} characters"
            budget.errors.append(message)
            out.append(_marker(message))
            return Rendered("".join(out), budget.errors)
        out.append(value)
    else:
        out.append(template[last:])
    text = "".join(out)
    if len(text) > MAX_OUTPUT_LENGTH:
        message = f"output is longer than {MAX_OUTPUT_LENGTH} characters"
        budget.errors.append(message)
        text = text[:MAX_OUTPUT_LENGTH] + _marker(message)
    return Rendered(text, budget.errors)


def resolve_single(template: str, context: Mapping[str, Any]) -> Any:
    """The raw value of a template that is exactly one method-less ``{{field}}``, else None.

    Lets ``"tags": ["{{tags}}"]`` carry a whole list from the payload instead of its JSON text.
    """
    if not isinstance(template, str):
        return None
    m = _EXPRESSION.fullmatch(template.strip())
    if not m:
        return None
    try:
        expr = parse_expression(m.group(1))
    except TemplateError:
        return None
    if expr.calls:
        return None
    value = resolve_field(context, expr.path)
    return None if is_missing(value) else value


def _marker(message: str) -> str:
    return f"[template error: {message}]"


def _evaluate(expr: _Expr, context: Mapping[str, Any], budget: _Budget) -> str:
    value = resolve_field(context, expr.path)
    # toDate works on the number itself; every other method on its text.
    current: Any = None if is_missing(value) else value
    for call in expr.calls:
        budget.check()
        method = _METHODS.get(call.name)
        if method is None:
            raise TemplateError(f"unknown method {call.name}()")
        _need(call.name, call.args, _SIGNATURES[call.name])
        current = method(current if call.name == "toDate" else as_text(current), call.args, budget)
        if len(current) > MAX_OUTPUT_LENGTH:
            raise TemplateError(f"output is longer than {MAX_OUTPUT_LENGTH} characters")
    return as_text(current)


def _need(name: str, args: tuple[Any, ...], kinds: tuple[tuple[type, ...], ...]) -> None:
    low = sum(1 for k in kinds if type(None) not in k)
    if not low <= len(args) <= len(kinds):
        expected = f"{low}" if low == len(kinds) else f"{low} to {len(kinds)}"
        raise TemplateError(f"{name}() takes {expected} arguments, got {len(args)}")
    for arg, kind in zip(args, kinds, strict=False):
        if not isinstance(arg, kind):
            raise TemplateError(f"{name}() got an argument of the wrong kind: {arg!r}")


_S = (str,)
_I = (int,)
_R = (_Regex, str)
_OPT_S = (str, type(None))
_OPT_I = (int, type(None))


def _to_lower(text: str, args: tuple[Any, ...], _b: _Budget) -> str:
    return text.lower()


def _to_upper(text: str, args: tuple[Any, ...], _b: _Budget) -> str:
    return text.upper()


def _trim(text: str, args: tuple[Any, ...], _b: _Budget) -> str:
    return text.strip()


def _remove_all_whitespace(text: str, args: tuple[Any, ...], _b: _Budget) -> str:
    return "".join(text.split())


def _length(text: str, args: tuple[Any, ...], _b: _Budget) -> str:
    return str(len(text))


def _substring(text: str, args: tuple[Any, ...], _b: _Budget) -> str:
    start = max(0, min(args[0], len(text)))
    end = len(text) if len(args) < 2 else max(start, min(args[1], len(text)))
    return text[start:end]


def _substring_after(text: str, args: tuple[Any, ...], _b: _Budget) -> str:
    _head, sep, tail = text.partition(args[0])
    return tail if sep else ""


def _substring_after_last(text: str, args: tuple[Any, ...], _b: _Budget) -> str:
    _head, sep, tail = text.rpartition(args[0])
    return tail if sep else ""


def _substring_before(text: str, args: tuple[Any, ...], _b: _Budget) -> str:
    return text.partition(args[0])[0]


def _substring_before_last(text: str, args: tuple[Any, ...], _b: _Budget) -> str:
    head, sep, _tail = text.rpartition(args[0])
    return head if sep else text


def _substring_between(text: str, args: tuple[Any, ...], _b: _Budget) -> str:
    opener = args[0]
    closer = args[1] if len(args) > 1 else args[0]
    _head, sep, tail = text.partition(opener)
    if not sep:
        return ""
    inner, sep2, _rest = tail.partition(closer)
    return inner if sep2 else ""


def _extract(text: str, args: tuple[Any, ...], budget: _Budget) -> str:
    compiled = _pattern(args[0])
    try:
        m = compiled.search(text, timeout=budget.regex_timeout())
    except TimeoutError:
        budget.errors.append(f"extract() timed out after {REGEX_TIMEOUT_SECONDS:g}s")
        return REGEX_TIMEOUT_RESULT
    if m is None:
        return ""
    group = args[1] if len(args) > 1 else (1 if compiled.groups else 0)
    if not 0 <= group <= compiled.groups:
        raise TemplateError(f"extract() has no group {group}")
    return m.group(group) or ""


def _replace(text: str, args: tuple[Any, ...], _b: _Budget) -> str:
    old, new = args
    if not old:
        raise TemplateError("replace() needs a non-empty text to replace")
    # Refuse before building the string: a short template can otherwise ask for gigabytes.
    if len(text) + text.count(old) * (len(new) - len(old)) > MAX_OUTPUT_LENGTH:
        raise TemplateError(f"output is longer than {MAX_OUTPUT_LENGTH} characters")
    return text.replace(old, new)


_JAVA_GROUP = re.compile(r"\$(\d+|\{\w+\})")


def _replace_all(text: str, args: tuple[Any, ...], budget: _Budget) -> str:
    compiled = _pattern(args[0])
    # Java writes group references as $1 / ${name}; Python's expand wants \g<1>.
    replacement = _JAVA_GROUP.sub(lambda m: "\\g<" + m.group(1).strip("{}") + ">", args[1])
    size = [len(text)]

    def expand(m: regex.Match[str]) -> str:
        piece = m.expand(replacement)
        size[0] += len(piece) - (m.end() - m.start())
        if size[0] > MAX_OUTPUT_LENGTH:
            raise TemplateError(f"output is longer than {MAX_OUTPUT_LENGTH} characters")
        return piece

    try:
        return compiled.sub(expand, text, timeout=budget.regex_timeout())
    except TimeoutError:
        budget.errors.append(f"replaceAll() timed out after {REGEX_TIMEOUT_SECONDS:g}s")
        return REGEX_TIMEOUT_RESULT
    except (regex.error, IndexError) as e:
        raise TemplateError(f"replaceAll() replacement is invalid: {e}") from None


def _to_date(value: Any, args: tuple[Any, ...], _b: _Budget) -> str:
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
        if letter == "d":
            return f"{moment.day:0{n}d}"
        if letter == "H":
            return f"{moment.hour:0{n}d}"
        if letter == "h":
            return f"{(moment.hour % 12) or 12:0{n}d}"
        if letter == "m":
            return f"{moment.minute:0{n}d}"
        if letter == "s":
            return f"{moment.second:0{n}d}"
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


_pattern_cache: dict[str, regex.Pattern[str]] = {}


def _compile(pattern: str) -> regex.Pattern[str]:
    if len(pattern) > 1000:
        raise regex.error("pattern is longer than 1000 characters")
    compiled = _pattern_cache.get(pattern)
    if compiled is None:
        compiled = regex.compile(pattern, regex.VERSION0)
        if len(_pattern_cache) < 512:
            _pattern_cache[pattern] = compiled
    return compiled


def _pattern(arg: _Regex | str) -> regex.Pattern[str]:
    text = arg.pattern if isinstance(arg, _Regex) else arg
    try:
        return _compile(text)
    except regex.error as e:
        raise TemplateError(f"invalid regex /{text}/: {e}") from None


_SIGNATURES: dict[str, tuple[tuple[type, ...], ...]] = {
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

_Method = Callable[[Any, tuple[Any, ...], _Budget], str]
_METHODS: dict[str, _Method] = {
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

METHOD_NAMES = tuple(_METHODS)
