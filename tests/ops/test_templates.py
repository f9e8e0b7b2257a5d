from __future__ import annotations

import time
from typing import Any

import pytest

from provider.ops.lang import templates
from provider.ops.lang.regex import Budget
from provider.ops.lang.templates import render

CONTEXT: dict[str, Any] = {
    "subject": "[ALERT] Host: db02 is DOWN (URL: http://db02/health )",
    "from_address": "nagios@example.com",
    "from_name": "Nagios Monitoring Server",
    "message": "Disk FULL on /var",
    "padded": "  spaced out  ",
    "ts": 1704441600123,
    "iso": "2024-01-05T08:00:00Z",
    "count": 7,
    "flag": True,
    "tags": ["a", "b"],
    "alert": {"labels": {"host": "web01"}},
    "_headers": {"X-Source": "grafana"},
    "_url": {"team": "sre"},
}

CASES = [
    ("{{subject}}", CONTEXT["subject"]),
    ("[Mail] {{subject}}", "[Mail] " + CONTEXT["subject"]),
    ("{{ subject }}", CONTEXT["subject"]),
    ("{{message.toLowerCase()}}", "disk full on /var"),
    ("{{message.toUpperCase()}}", "DISK FULL ON /VAR"),
    ("{{from_name.substring(7)}}", "Monitoring Server"),
    ("{{from_name.substring(0,6)}}", "Nagios"),
    ("{{from_name.substring(5,500)}}", "s Monitoring Server"),  # clamped, not an error
    ('{{subject.substringAfter("Host: ")}}', "db02 is DOWN (URL: http://db02/health )"),
    ('{{subject.substringAfter("nothing")}}', ""),
    ('{{from_address.substringBefore("@")}}', "nagios"),
    ('{{subject.substringBetween("URL:","(")}}', ""),
    ('{{subject.substringBetween("URL:",")").trim()}}', "http://db02/health"),
    ("{{subject.extract(/Host: (\\S+)/)}}", "db02"),
    ("{{subject.extract(/(\\w+) is (\\w+)/, 2)}}", "DOWN"),
    ("{{subject.extract(/nomatch (x)/)}}", ""),
    ('{{message.replace("FULL", "almost full")}}', "Disk almost full on /var"),
    ('{{message.replaceAll(/[aeiou]/, "_")}}', "D_sk FULL _n /v_r"),
    ('{{message.replaceAll(/(\\w+) (\\w+)/, "$2 $1")}}', "FULL Disk on /var"),
    ("{{padded.trim()}}", "spaced out"),
    ("{{padded.removeAllWhitespace()}}", "spacedout"),
    ("{{message.length()}}", "17"),
    ("{{ts.toDate()}}", "2024-01-05 08:00:00 +0000"),
    ("{{ts.toDate(\"yyyy-MM-dd'T'HH:mm:ss.SSS\")}}", "2024-01-05T08:00:00.123"),
    ('{{ts.toDate("dd MMM yyyy HH:mm z", "Europe/Berlin")}}', "05 Jan 2024 09:00 CET"),
    ('{{iso.toDate("EEE h:mm a")}}', "Fri 8:00 AM"),
    ("{{count}}", "7"),
    ("{{flag}}", "true"),
    ("{{tags}}", '["a","b"]'),
    ("{{alert.labels.host}}", "web01"),
    ("{{_payload.alert.labels.host}}", "web01"),
    ("{{_headers.X-Source}}", "grafana"),
    ("{{_url.team}}", "sre"),
    ("{{missing}}", ""),
    ("{{missing.toUpperCase()}}", ""),
    ("no braces at all", "no braces at all"),
    ('{{subject.substringAfter("Host: ").substringBefore(" ").toUpperCase()}}', "DB02"),
]


@pytest.mark.parametrize(("template", "expected"), CASES)
def test_template_renders_as_documented(template: str, expected: str) -> None:
    result = render(template, CONTEXT)
    assert result.errors == []
    assert result.text == expected


BROKEN = [
    ("{{ ''.__class__ }}", "expected a field name"),
    ("{{subject.__class__}}", "'__class__' is not allowed"),
    ("{{subject.__class__.__mro__}}", "'__class__' is not allowed"),
    ("{{__builtins__}}", "'__builtins__' is not allowed"),
    ("{{ config.items() }}", "unknown method items()"),
    ("{{ subject.format(1) }}", "unknown method format()"),
    ("{{ subject.toLowerCase(1) }}", "takes 0 arguments"),
    ("{{ subject.substring('x') }}", "wrong kind"),
    ("{{ subject.extract(/(/) }}", "invalid regex"),
    ("{{ subject.toUpperCase().length }}", "must be a method call too"),
    ("{{ subject + 1 }}", "unexpected '+'"),
    ("{{ lipsum.__globals__ }}", "'__globals__' is not allowed"),
    ('{{ subject.substringAfter("x }}', "unterminated literal"),
    ("{{ subject.toDate() }}", "needs a timestamp"),
    ('{{ ts.toDate("yyyy", "Mars/Olympus") }}', "does not know the time zone"),
]


@pytest.mark.parametrize(("template", "problem"), BROKEN)
def test_broken_or_hostile_templates_render_a_visible_error(template: str, problem: str) -> None:
    result = render(template, CONTEXT)
    assert not result.ok
    assert any(problem in e for e in result.errors), result.errors
    assert "[template error:" in result.text
    assert "class" not in result.text.replace("__class__", "")  # nothing of Python leaks out
    assert templates.check_template(template) or "timestamp" in problem or "time zone" in problem


def test_huge_output_is_refused_before_it_is_built() -> None:
    started = time.monotonic()
    template = (
        "{{message"
        + '.replace("a", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")' * 8
        + "}}"
    )
    result = render(template, {"message": "a" * 100})
    assert "output is longer than" in result.errors[0]
    assert len(result.text) < 1000
    assert time.monotonic() - started < 5  # a bound for runaway work, not a benchmark


def test_huge_output_from_regex_replacement_is_refused() -> None:
    result = render('{{message.replaceAll(/a/, "' + "b" * 1000 + '")}}', {"message": "a" * 1000})
    assert any("output is longer than" in e for e in result.errors)


def test_too_many_expressions_are_cut_off() -> None:
    result = render("{{a}}" * (templates.MAX_EXPRESSIONS + 5), {"a": "x"})
    assert "more than" in result.errors[0]
    assert result.text.startswith("x" * templates.MAX_EXPRESSIONS)


def test_overlong_template_is_refused() -> None:
    result = render("{{a}}" + "x" * templates.MAX_TEMPLATE_LENGTH, {"a": "x"})
    assert "longer than" in result.errors[0]


def test_a_catastrophic_pattern_in_extract_runs_in_linear_time() -> None:
    result = render("{{message.extract(/(a|aa)+b/)}}", {"message": "a" * 100_000})
    assert result.text == ""
    assert result.ok


def test_past_the_budget_regex_methods_return_null_and_say_why() -> None:
    template = "{{m.extract(/a/)}} {{m.extract(/a/)}} {{m.replaceAll(/a/, 'b')}}"
    result = render(template, {"m": "aaa"}, Budget(max_evaluations=1))
    assert result.text == "a null null"
    assert len(result.errors) == 2
    assert all("budget was spent" in e for e in result.errors)


@pytest.mark.parametrize("pattern", [r"(a)\1", r"(?=a)", r"(?<=a)b"])
def test_templates_with_patterns_a_linear_engine_cannot_run_are_refused(pattern: str) -> None:
    problems = templates.check_template("{{m.extract(/" + pattern + "/)}}")
    assert problems
    assert "linear-time" in problems[0]


def test_resolve_single_returns_the_raw_value() -> None:
    assert templates.resolve_single("{{tags}}", CONTEXT) == ["a", "b"]
    assert templates.resolve_single("{{tags.length()}}", CONTEXT) is None
    assert templates.resolve_single("x {{tags}}", CONTEXT) is None
