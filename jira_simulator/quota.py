"""Jira's 2026 rate limits, per site: an hourly points quota and a per-second burst limit.

Jira charges every request to an app's hourly per-site quota ("tenant-app-quota"); a write costs
its base cost of one point whatever its size, which is what is simulated for every request here.
Every answer carries what is left the way Jira's do::

    Beta-RateLimit-Policy: "tenant-app-quota";q=100100;w=3600
    Beta-RateLimit: "tenant-app-quota";r=<points left>;t=<seconds until the window resets>
    X-RateLimit-Limit: 350
    X-RateLimit-Remaining: <requests left in this second>

Past the quota a request is answered 429 with ``Retry-After`` (the seconds until the window
resets) and ``RateLimit-Reason: jira-quota-tenant-based``; past the burst limit, 429 with
``Retry-After: 1`` and ``jira-burst-based``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

POLICY = "tenant-app-quota"
# What a real site announced in 2026 (the community thread the reference quotes).
DEFAULT_POINTS = 100_100
DEFAULT_WINDOW = 3600
DEFAULT_BURST = 350
MAX_POINTS = 10_000_000
MAX_WINDOW = 86_400


class QuotaError(ValueError):
    """A quota setting is not valid."""


@dataclass(slots=True)
class _Usage:
    window_start: float = 0.0
    spent: int = 0
    second: int = -1
    in_second: int = 0
    refused: int = 0


@dataclass(frozen=True, slots=True)
class Limits:
    points: int = DEFAULT_POINTS
    window: int = DEFAULT_WINDOW
    burst: int = DEFAULT_BURST

    def __post_init__(self) -> None:
        for name, value, top in (
            ("points", self.points, MAX_POINTS),
            ("window", self.window, MAX_WINDOW),
            ("burst", self.burst, MAX_POINTS),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
                raise QuotaError(f"{name} must be a whole number from 1 to {top}")


@dataclass(frozen=True, slots=True)
class Refusal:
    retry_after: int
    reason: str


class Quotas:
    """The quota and burst limit of every site; thread-safe, with an injectable clock."""

    def __init__(
        self, limits: Limits | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._lock = threading.Lock()
        self._default = limits or Limits()
        self._limits: dict[str, Limits] = {}
        self._usage: dict[str, _Usage] = {}
        self._clock = clock

    def configure(
        self, site: str | None = None, *, points: int, window: int, burst: int = DEFAULT_BURST
    ) -> Limits:
        """Set the limits of one site (or the default of every site) and start a fresh window.

        :raises QuotaError: for a value out of range.
        """
        limits = Limits(points=points, window=window, burst=burst)
        with self._lock:
            if site is None:
                self._default = limits
                self._limits.clear()
                self._usage.clear()
            else:
                self._limits[site] = limits
                self._usage.pop(site, None)
        return limits

    def configure_json(self, raw: object) -> Limits:
        """``PUT /_sim/quota`` with ``{"points", "window", "burst", "site"}`` (all optional).

        :raises QuotaError: for a malformed body.
        """
        if not isinstance(raw, Mapping):
            raise QuotaError("the body must be a JSON object")
        unknown = set(raw) - {"points", "window", "burst", "site"}
        if unknown:
            raise QuotaError(f"unknown fields: {', '.join(sorted(unknown))}")
        site = raw.get("site")
        if site is not None and not isinstance(site, str):
            raise QuotaError("site must be a string")
        with self._lock:
            current = self._limits.get(site, self._default) if site else self._default
        return self.configure(
            site,
            points=raw.get("points", current.points),
            window=raw.get("window", current.window),
            burst=raw.get("burst", current.burst),
        )

    def reset(self) -> None:
        """Forget what every site spent (the limits stay)."""
        with self._lock:
            self._usage.clear()

    def charge(self, site: str) -> Refusal | None:
        """Spend one point of ``site``'s quota, or say why the request is refused."""
        with self._lock:
            limits, usage, now = self._current(site)
            second = math.floor(now)
            if second != usage.second:
                usage.second, usage.in_second = second, 0
            if usage.spent >= limits.points:
                usage.refused += 1
                reset_in = usage.window_start + limits.window - now
                return Refusal(max(1, math.ceil(reset_in)), "jira-quota-tenant-based")
            if usage.in_second >= limits.burst:
                usage.refused += 1
                return Refusal(1, "jira-burst-based")
            usage.spent += 1
            usage.in_second += 1
            return None

    def headers(self, site: str) -> dict[str, str]:
        """The rate-limit headers of an answer to ``site``, after its charge."""
        with self._lock:
            limits, usage, now = self._current(site)
            reset_in = max(0, math.ceil(usage.window_start + limits.window - now))
            in_second = usage.in_second if usage.second == math.floor(now) else 0
            return {
                "Beta-RateLimit-Policy": f'"{POLICY}";q={limits.points};w={limits.window}',
                "Beta-RateLimit": (
                    f'"{POLICY}";r={max(0, limits.points - usage.spent)};t={reset_in}'
                ),
                "X-RateLimit-Limit": str(limits.burst),
                "X-RateLimit-Remaining": str(max(0, limits.burst - in_second)),
            }

    def snapshot(self) -> dict[str, Any]:
        """Limits and spending per site (``GET /_sim/quota``)."""
        with self._lock:
            sites = set(self._limits) | set(self._usage)
            out: dict[str, Any] = {"default": _limits_json(self._default), "sites": {}}
            for site in sorted(sites):
                limits, usage, now = self._current(site)
                out["sites"][site] = {
                    **_limits_json(limits),
                    "spent": usage.spent,
                    "remaining": max(0, limits.points - usage.spent),
                    "refused": usage.refused,
                    "resetsIn": max(0, math.ceil(usage.window_start + limits.window - now)),
                }
            return out

    def _current(self, site: str) -> tuple[Limits, _Usage, float]:
        """Limits, usage (a new window once the last one ended) and the time; under the lock."""
        limits = self._limits.get(site, self._default)
        now = self._clock()
        usage = self._usage.get(site)
        if usage is None or now >= usage.window_start + limits.window:
            refused = usage.refused if usage is not None else 0
            usage = self._usage[site] = _Usage(window_start=now, refused=refused)
        return limits, usage, now


def _limits_json(limits: Limits) -> dict[str, int]:
    return {"points": limits.points, "window": limits.window, "burst": limits.burst}
