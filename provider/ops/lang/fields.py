"""Where a field of a payload is, and the text a filter or a template sees for it.

Filters (:mod:`provider.ops.lang.filters`), templates and string methods read payloads the same
way: a field name is an alert-field synonym, a ``_payload.…`` path, a top-level key spelled
exactly so, or a dotted path through objects and list indexes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

MAP_FIELDS = ("extra-properties", "details", "extraProperties")

MISSING: Any = object()


def resolve_field(payload: Mapping[str, Any], name: str) -> Any:
    """Find a field's value in a payload, or ``MISSING``.

    Order: the alert-field synonyms (``extra-properties`` → ``extraProperties``/``details``,
    ``recipients``/``responders``); ``_payload.…`` (the raw payload); a top-level key spelled
    exactly so (keys may contain dots); then a dotted path through objects and list indexes.
    """
    if name in MAP_FIELDS:
        for candidate in ("extraProperties", "details", "extra-properties"):
            value = payload.get(candidate)
            if isinstance(value, Mapping):
                return value
        return MISSING
    if name in ("recipients", "responders"):
        for candidate in ("responders", "recipients"):
            if candidate in payload:
                return payload[candidate]
        return MISSING
    if name == "_payload":
        return payload.get("_payload", payload)
    if name.startswith("_payload."):
        root = payload.get("_payload", payload)
        return _walk(root, name[len("_payload.") :])
    if name in payload:
        return payload[name]
    return _walk(payload, name)


def _walk(value: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(value, Mapping):
            if part not in value:
                return MISSING
            value = value[part]
        elif (
            isinstance(value, list) and part.isascii() and part.isdigit() and int(part) < len(value)
        ):
            value = value[int(part)]
        else:
            return MISSING
    return value


def is_missing(value: Any) -> bool:
    return value is MISSING


def as_text(value: Any) -> str:
    """The string a condition or template sees for a scalar value."""
    if value is MISSING or value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return number_text(value)
    if isinstance(value, str):
        return value
    return json_text(value)


def number_text(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        return str(int(value))
    return str(value)


def json_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def display(value: Any) -> Any:
    """The value shown in an explanation; long values are shortened so a dry run stays small."""
    if value is MISSING:
        return None
    text = value if isinstance(value, str) else None
    if text is not None and len(text) > 200:
        return text[:200] + "…"
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    dumped = json_text(value)
    return value if len(dumped) <= 500 else dumped[:500] + "…"
