"""The retry policy: one table from failure to action."""

from __future__ import annotations

import random

import pytest

from provider.connect.http import JiraHttpError
from provider.connect.http import JiraNetworkError
from provider.outbox.retry import Action
from provider.outbox.retry import RetryPolicy
from provider.outbox.retry import classify


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (429, Action.THROTTLE),
        (503, Action.THROTTLE),
        (413, Action.SPLIT),
        (401, Action.PAUSE),
        (403, Action.PAUSE),
        (500, Action.RETRY),
        (502, Action.RETRY),
        (504, Action.RETRY),
        (408, Action.RETRY),
        (400, Action.FAIL),
        (404, Action.FAIL),
        (405, Action.FAIL),
        (302, Action.FAIL),
    ],
)
def test_http_status_maps_to_one_action(status: int, action: Action) -> None:
    assert classify(JiraHttpError(status, '[{"message": "m"}]')).action is action


def test_network_errors_are_retried() -> None:
    assert classify(JiraNetworkError("reset")).action is Action.RETRY


def test_throttle_carries_retry_after_and_jiras_message() -> None:
    decision = classify(JiraHttpError(429, '[{"message": "slow down"}]', retry_after=12))
    assert decision.retry_after == 12
    assert "slow down" in decision.reason


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(base_delay=1, max_delay=16)
    rng = random.Random(3)
    for attempt, step in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 16), (9, 16)]:
        delays = {policy.backoff(attempt, rng) for _ in range(20)}
        assert all(step / 2 <= d <= step for d in delays)
        assert len(delays) > 1  # jittered


def test_retry_after_wins_over_backoff_but_is_capped() -> None:
    policy = RetryPolicy(max_retry_after=60)
    assert policy.throttle_delay(7, throttle_count=5) == 7
    assert policy.throttle_delay(10_000, throttle_count=1) == 60
    assert policy.throttle_delay(0, throttle_count=1) == 0
