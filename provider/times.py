"""Time: every timestamp is timezone-aware UTC; the wire format is ISO 8601 with milliseconds."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    """``2024-01-05T07:06:47.958Z``, the format of the JSM operations API."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_ms() -> int:
    return int(utcnow().timestamp() * 1000)
