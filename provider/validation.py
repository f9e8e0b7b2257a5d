"""Parse JSON request bodies at the edge, collecting every field error into one 422.

No Flask import: schemas call these helpers with the decoded JSON value.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any
from typing import TypeVar

from provider.errors import BadRequest
from provider.errors import ValidationFailed

E = TypeVar("E", bound=enum.Enum)
_MISSING = object()


class Fields:
    """Read typed fields out of a JSON object, remembering what was wrong with each."""

    def __init__(self, raw: object, *, what: str = "request body") -> None:
        if not isinstance(raw, Mapping):
            raise BadRequest(f"The {what} must be a JSON object.", code="invalid_json")
        self.raw: Mapping[str, Any] = raw
        self.errors: dict[str, str] = {}

    def has(self, name: str) -> bool:
        return name in self.raw and self.raw[name] is not None

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def _get(self, name: str) -> Any:
        value = self.raw.get(name, _MISSING)
        return _MISSING if value is None else value

    def required_str(self, name: str, *, max_len: int | None = None, strip: bool = True) -> str:
        value = self._get(name)
        if value is _MISSING:
            self.error(name, "is required")
            return ""
        return self._check_str(name, value, max_len=max_len, strip=strip, required=True) or ""

    def optional_str(
        self,
        name: str,
        *,
        max_len: int | None = None,
        default: str | None = None,
        strip: bool = True,
    ) -> str | None:
        value = self._get(name)
        if value is _MISSING:
            return default
        return self._check_str(name, value, max_len=max_len, strip=strip, required=False)

    def _check_str(
        self, name: str, value: Any, *, max_len: int | None, strip: bool, required: bool
    ) -> str | None:
        if not isinstance(value, str):
            self.error(name, "must be a string")
            return None
        if strip:
            value = value.strip()
        if required and not value:
            self.error(name, "must not be empty")
            return None
        if max_len is not None and len(value) > max_len:
            self.error(name, f"must be at most {max_len} characters")
            return None
        return value

    def optional_bool(self, name: str, *, default: bool | None = None) -> bool | None:
        value = self._get(name)
        if value is _MISSING:
            return default
        if not isinstance(value, bool):
            self.error(name, "must be true or false")
            return default
        return value

    def optional_int(
        self,
        name: str,
        *,
        default: int | None = None,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int | None:
        value = self._get(name)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(name, "must be a whole number")
            return default
        if minimum is not None and value < minimum:
            self.error(name, f"must be at least {minimum}")
        if maximum is not None and value > maximum:
            self.error(name, f"must be at most {maximum}")
        return value

    def enum(self, name: str, kind: type[E], *, default: E | None = None) -> E | None:
        value = self._get(name)
        if value is _MISSING:
            return default
        try:
            return kind(value)
        except (ValueError, TypeError):
            allowed = ", ".join(str(m.value) for m in kind)
            self.error(name, f"must be one of: {allowed}")
            return default

    def str_list(
        self, name: str, *, max_items: int | None = None, max_len: int | None = None
    ) -> list[str] | None:
        value = self._get(name)
        if value is _MISSING:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.error(name, "must be a list of strings")
            return None
        if max_items is not None and len(value) > max_items:
            self.error(name, f"must have at most {max_items} items")
            return None
        if max_len is not None and any(len(v) > max_len for v in value):
            self.error(name, f"items must be at most {max_len} characters")
            return None
        return value

    def str_map(self, name: str) -> dict[str, str] | None:
        value = self._get(name)
        if value is _MISSING:
            return None
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            self.error(name, "must be an object of string values")
            return None
        return dict(value)

    def raise_if_errors(self) -> None:
        """:raises ValidationFailed: naming the first bad field, with every field error attached."""
        if not self.errors:
            return
        name, message = next(iter(self.errors.items()))
        extra = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        raise ValidationFailed(
            f"{name} {message}{extra}",
            details={"source": {"pointer": f"/{name}"}, "fields": dict(self.errors)},
        )
