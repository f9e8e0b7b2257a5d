"""The retry policy, in one place: what each failure of a call to Jira means for its messages.

Follows Atlassian's guidance and github-for-jira's policy:

* 429 and 503 throttle the *installation* (never the whole worker): wait ``Retry-After`` when
  given, else back off exponentially with jitter; messages keep their attempt count;
* 413 splits the batch in halves, down to single entities;
* other 5xx, 408 and network errors back off per message and dead-letter after a bound;
* 401 and 403 pause the installation until it is re-installed or resumed by hand;
* any other 4xx (a request Jira calls malformed) fails the messages with Jira's message.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass

from provider.connect.http import JiraError
from provider.connect.http import JiraHttpError
from provider.connect.http import JiraNetworkError


class Action(enum.StrEnum):
    THROTTLE = "throttle"  # hold back the installation; release the messages unchanged
    SPLIT = "split"  # send the batch again in two halves
    RETRY = "retry"  # back off, count an attempt, dead-letter past the bound
    PAUSE = "pause"  # stop delivering to the installation
    FAIL = "fail"  # Jira rejected the request: keep its message, do not retry blindly


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_delay: float = 2.0  # seconds before the first retry of a 5xx / network error
    max_delay: float = 600.0
    max_attempts: int = 8  # then dead-lettered
    throttle_base_delay: float = 5.0  # first wait after a 429/503 without Retry-After
    throttle_max_delay: float = 300.0
    max_retry_after: float = 3600.0  # a Retry-After beyond this is capped (a broken header)

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Delay before retry number ``attempt`` (1-based): exponential with equal jitter."""
        return _jittered(self.base_delay, self.max_delay, attempt, rng)

    def throttle_delay(
        self, retry_after: float | None, throttle_count: int, rng: random.Random | None = None
    ) -> float:
        """How long an installation waits after its ``throttle_count``-th 429/503 in a row."""
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        return _jittered(self.throttle_base_delay, self.throttle_max_delay, throttle_count, rng)


def _jittered(base: float, cap: float, attempt: int, rng: random.Random | None) -> float:
    # "Equal jitter": never less than half the exponential step, so a throttled client really
    # slows down, yet concurrent workers do not retry in lockstep.
    step = min(cap, base * (2.0 ** max(0, attempt - 1)))
    return step / 2 + (rng or random).uniform(0, step / 2)


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    reason: str
    retry_after: float | None = None


def classify(error: JiraError) -> Decision:
    """Map a failed call to what the worker does next."""
    if isinstance(error, JiraNetworkError):
        return Decision(Action.RETRY, str(error))
    if not isinstance(error, JiraHttpError):
        return Decision(Action.FAIL, str(error))
    status = error.status
    message = "; ".join(error.messages())[:1000] or f"HTTP {status}"
    if status in (429, 503):
        return Decision(Action.THROTTLE, f"HTTP {status}: {message}", error.retry_after)
    if status == 413:
        return Decision(Action.SPLIT, f"HTTP 413: {message}")
    if status in (401, 403):
        return Decision(Action.PAUSE, f"Jira answered {status}: {message}")
    if status >= 500 or status == 408:
        return Decision(Action.RETRY, f"HTTP {status}: {message}")
    return Decision(Action.FAIL, f"HTTP {status}: {message}")
