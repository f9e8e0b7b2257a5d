"""``{{…}}`` field-mapping templates with the JSM string processing methods.

A hand-written parser rather than a general template engine: an expression is a field path
followed by calls of whitelisted string methods (``{{subject.substringAfter("Host:").trim()}}``),
with string, integer and ``/regex/`` literals as the only arguments (the methods themselves are in
:mod:`provider.ops.lang.string_methods`). There is no attribute access to anything but payload
data, so no template can reach Python objects; regexes run on RE2 within the budget of the alert
or request, and output stays under a size cap. A broken expression renders as
a visible ``[template error: …]`` marker and is reported, so an alert is never dropped for it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from provider.ops.lang.fields import as_text
from provider.ops.lang.fields import is_missing
from provider.ops.lang.fields import resolve_field
from provider.ops.lang.regex import Budget
from provider.ops.lang.string_methods import MAX_OUTPUT_LENGTH
from provider.ops.lang.string_methods import METHODS
from provider.ops.lang.string_methods import SIGNATURES
from provider.ops.lang.string_methods import RegexLiteral
from provider.ops.lang.string_methods import RenderBudget
from provider.ops.lang.string_methods import TemplateError
from provider.ops.lang.string_methods import check_arguments
from provider.ops.lang.string_methods import pattern_problem

MAX_TEMPLATE_LENGTH = 10_000
MAX_EXPRESSIONS = 100
MAX_CALLS_PER_EXPRESSION = 20

_EXPRESSION = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


@dataclass(slots=True)
class Rendered:
    text: str
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


# ---------------------------------------------------------------------------------------------
# Parsing


@dataclass(frozen=True, slots=True)
class _Call:
    name: str
    args: tuple[str | int | RegexLiteral, ...]


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

    def args(self) -> tuple[str | int | RegexLiteral, ...]:
        out: list[str | int | RegexLiteral] = []
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

    def literal(self) -> str | int | RegexLiteral:
        ch = self.peek()
        if ch in ("'", '"'):
            return self.quoted(ch)
        if ch == "/":
            return RegexLiteral(self.quoted("/", keep_escapes=True))
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
            if call.name not in METHODS:
                problems.append(f"unknown method {call.name}()")
                continue
            try:
                check_arguments(call.name, call.args, SIGNATURES[call.name])
            except TemplateError as e:
                problems.append(str(e))
                continue
            if call.name in ("extract", "replaceAll"):
                problem = pattern_problem(call.args[0])  # type: ignore[arg-type]
                if problem is not None:
                    problems.append(f"invalid regex in {call.name}(): {problem}")
    return problems


# ---------------------------------------------------------------------------------------------
# Rendering


def render(template: str, context: Mapping[str, Any], patterns: Budget | None = None) -> Rendered:
    """Render a template against a payload context; never raises for a bad template.

    ``patterns``: the pattern budget of the alert or request being handled (a fresh one if
    not given).
    """
    if not isinstance(template, str):
        return Rendered(as_text(template))
    if "{{" not in template:
        return Rendered(template[:MAX_OUTPUT_LENGTH])
    if len(template) > MAX_TEMPLATE_LENGTH:
        message = f"template is longer than {MAX_TEMPLATE_LENGTH} characters"
        return Rendered(_marker(message), [message])
    budget = RenderBudget(patterns if patterns is not None else Budget())
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


def _evaluate(expr: _Expr, context: Mapping[str, Any], budget: RenderBudget) -> str:
    value = resolve_field(context, expr.path)
    # toDate works on the number itself; every other method on its text.
    current: Any = None if is_missing(value) else value
    for call in expr.calls:
        method = METHODS.get(call.name)
        if method is None:
            raise TemplateError(f"unknown method {call.name}()")
        check_arguments(call.name, call.args, SIGNATURES[call.name])
        current = method(current if call.name == "toDate" else as_text(current), call.args, budget)
        if len(current) > MAX_OUTPUT_LENGTH:
            raise TemplateError(f"output is longer than {MAX_OUTPUT_LENGTH} characters")
    return as_text(current)
