"""The priority scale of alerts, ``P1`` (the most urgent) to ``P5``.

Alerts store it; rules, filters and integration actions compare and validate against it, so
every context reads the one scale from here.
"""

from __future__ import annotations

import enum


class Priority(enum.StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"
    P5 = "P5"


# Most urgent first: a priority's index is its rank.
PRIORITIES: tuple[str, ...] = tuple(p.value for p in Priority)
