"""What Jira says about its rate limits in each answer: the points quota and the burst limit.

Jira's 2026 limits charge every request of an app to an hourly per-site quota (a write costs
one point whatever its size) and announce it in structured-field headers::

    Beta-RateLimit-Policy: "tenant-app-quota";q=100100;w=3600
    Beta-RateLimit: "tenant-app-quota";r=99871;t=2410
    X-RateLimit-Remaining: 349            (the per-second burst limit of the endpoint)
    RateLimit-Reason: jira-quota-tenant-based   (on a 429; X-Beta-RateLimit-Reason also seen)

These are hints from a remote party: anything malformed or out of range is ignored, never an
error, and numbers are capped so that a broken header cannot make the app wait for a year.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

POLICY_HEADER = "Beta-RateLimit-Policy"
STATE_HEADER = "Beta-RateLimit"
BURST_REMAINING_HEADER = "X-RateLimit-Remaining"
REASON_HEADERS = ("RateLimit-Reason", "X-Beta-RateLimit-Reason")
MAX_POINTS = 100_000_000
MAX_SECONDS = 7 * 86_400
MAX_REASON_CHARS = 100

_PARAM = re.compile(r";\s*([a-z][a-z0-9_\-*.]*)\s*=\s*([0-9]{1,12})(?=\s*(?:;|$))")
_NUMBER = re.compile(r"[0-9]{1,12}")
_REASON = re.compile(r"^[A-Za-z0-9._\-]+$")


@dataclass(frozen=True, slots=True)
class QuotaHeaders:
    """Jira's view of the app's budget at one site, as far as an answer told it."""

    quota: int | None = None  # points per window (q)
    window_seconds: int | None = None  # w
    remaining: int | None = None  # points left in this window (r)
    resets_in: int | None = None  # seconds until the window starts afresh (t)
    burst_remaining: int | None = None
    reason: str | None = None

    @property
    def empty(self) -> bool:
        return self == QuotaHeaders()


def parse_quota_headers(headers: Mapping[str, str]) -> QuotaHeaders:
    """Read the rate-limit headers of one answer (a case-insensitive mapping)."""
    policy = _params(headers.get(POLICY_HEADER))
    state = _params(headers.get(STATE_HEADER))
    reason = None
    for name in REASON_HEADERS:
        value = (headers.get(name) or "").strip()[:MAX_REASON_CHARS]
        if value and _REASON.match(value):
            reason = value
            break
    return QuotaHeaders(
        quota=_bounded(policy.get("q"), MAX_POINTS),
        window_seconds=_bounded(policy.get("w"), MAX_SECONDS),
        remaining=_bounded(state.get("r"), MAX_POINTS),
        resets_in=_bounded(state.get("t"), MAX_SECONDS),
        burst_remaining=_bounded(_digits(headers.get(BURST_REMAINING_HEADER)), MAX_POINTS),
        reason=reason,
    )


def _params(value: str | None) -> dict[str, str]:
    """The parameters of the first list member of a structured-field header.

    Only the first member counts: Jira names one policy today, and a second one (another
    limit) must not overwrite its numbers.
    """
    if not value:
        return {}
    first = value[:500].split(",", 1)[0]
    return dict(_PARAM.findall(first))


def _digits(value: str | None) -> str | None:
    value = (value or "").strip()
    return value if _NUMBER.fullmatch(value) else None


def _bounded(value: str | None, top: int) -> int | None:
    if value is None:
        return None
    number = int(value)
    return number if number <= top else top
