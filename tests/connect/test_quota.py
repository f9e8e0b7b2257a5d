"""Jira's rate-limit headers: read when well formed, ignored when not, never trusted blindly."""

from __future__ import annotations

from requests.structures import CaseInsensitiveDict

from provider.connect.quota import MAX_POINTS
from provider.connect.quota import MAX_SECONDS
from provider.connect.quota import QuotaHeaders
from provider.connect.quota import parse_quota_headers


def _parse(**headers: str) -> QuotaHeaders:
    return parse_quota_headers(
        CaseInsensitiveDict({k.replace("_", "-"): v for k, v in headers.items()})
    )


def test_the_headers_a_site_sent_in_2026() -> None:
    quota = _parse(
        Beta_Ratelimit_Policy='"tenant-app-quota";q=100100;w=3600',
        Beta_Ratelimit='"tenant-app-quota";r=99871;t=2410',
        X_Ratelimit_Remaining="349",
        X_Beta_Ratelimit_Reason="jira-quota-tenant-based",
    )
    assert quota == QuotaHeaders(
        quota=100100,
        window_seconds=3600,
        remaining=99871,
        resets_in=2410,
        burst_remaining=349,
        reason="jira-quota-tenant-based",
    )


def test_no_headers_say_nothing() -> None:
    assert _parse().empty


def test_only_the_first_policy_counts() -> None:
    quota = _parse(Beta_RateLimit_Policy='"tenant-app-quota";q=500;w=60, "other";q=1;w=1')
    assert (quota.quota, quota.window_seconds) == (500, 60)


def test_malformed_values_are_ignored() -> None:
    quota = _parse(
        Beta_RateLimit_Policy='"tenant-app-quota";q=-5;w=abc',
        Beta_RateLimit='"tenant-app-quota";r=1e9;t=',
        X_RateLimit_Remaining="٣٤٩",  # digits, but not ASCII ones
        RateLimit_Reason="jira quota; <script>",
    )
    assert quota.empty


def test_huge_numbers_are_capped() -> None:
    quota = _parse(
        Beta_RateLimit_Policy='"tenant-app-quota";q=999999999999;w=999999999999',
        Beta_RateLimit='"tenant-app-quota";r=999999999999;t=999999999999',
    )
    assert (quota.quota, quota.remaining) == (MAX_POINTS, MAX_POINTS)
    assert (quota.window_seconds, quota.resets_in) == (MAX_SECONDS, MAX_SECONDS)


def test_a_long_header_is_read_only_so_far() -> None:
    quota = _parse(Beta_RateLimit='"tenant-app-quota";' + "x=1;" * 10_000 + "r=5")
    assert quota.remaining is None
