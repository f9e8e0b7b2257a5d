"""What incident logic needs to know about an alert, as a plain snapshot.

Promotion, mapping and severity are pure functions of these facts, so they can be reasoned about
(and tested) without the alert tables, and the alert model can change without touching them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Any

from provider.ops.priority import PRIORITIES


def priority_rank(priority: str | None) -> int:
    """1 for P1 (highest) … 5 for P5; anything unknown ranks below P5."""
    try:
        return PRIORITIES.index(priority or "") + 1
    except ValueError:
        return len(PRIORITIES) + 1


def higher_priority(a: str | None, b: str | None) -> str | None:
    """The more severe of two priorities (``None`` when both are unknown)."""
    if priority_rank(a) <= priority_rank(b):
        return a if a in PRIORITIES else (b if b in PRIORITIES else None)
    return b


@dataclass(frozen=True, slots=True)
class AlertFacts:
    id: int
    public_id: str
    workspace_id: int
    message: str
    priority: str
    created_at: datetime
    alias: str | None = None
    entity: str | None = None
    source: str | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()
    details: Mapping[str, str] = field(default_factory=dict)
    count: int = 1
    acknowledged: bool = False
    open: bool = True
    integration_id: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)  # the alert as the filter grammar sees it
