"""Opsgenie's v2 envelopes, shared by every ``/v2`` context: data, paging, errors.

Reads answer ``{data, took, requestId}``, lists add ``paging``, and errors are
``{message, took, requestId}``: Opsgenie's clients (its SDKs, Alertmanager) read these shapes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from typing import Generic
from typing import TypeVar
from urllib.parse import urlencode

from flask import g
from flask import request
from pydantic import Field

from provider.ops.access.http import took
from provider.schema.fields import ResponseModel

T = TypeVar("T")


class Envelope(ResponseModel):
    """What every Opsgenie answer carries besides its data."""

    took: float = Field(ge=0, description="Seconds.")
    request_id: str


class Data(Envelope, Generic[T]):
    data: T


class Paging(ResponseModel):
    first: str
    next: str | None = Field(
        default=None, exclude_if=lambda value: value is None, description="Absent at the end."
    )


class Listing(Envelope, Generic[T]):
    data: list[T]
    paging: Paging


def envelope() -> dict[str, Any]:
    """The ``took`` and ``requestId`` of this request's answer."""
    return {"took": took(), "request_id": g.get("request_id", "")}


def paging(offset: int, limit: int, total: int) -> Paging:
    """Links to the first and the next page, with the request's other parameters."""

    def link(at: int) -> str:
        args = {k: v for k, v in request.args.items() if k not in ("offset", "limit")}
        args.update(offset=str(at), limit=str(limit))
        return f"{request.script_root}{request.path}?{urlencode(args)}"

    more = offset + limit < total
    return Paging(first=link(0), next=link(offset + limit) if more else None)


class OpsgenieError(ResponseModel):
    """Opsgenie's error body; ``errors`` names the field at fault when one is."""

    message: str
    took: float = Field(ge=0)
    request_id: str
    errors: dict[str, str] | None = Field(default=None, exclude_if=lambda value: value is None)


def error_body(status: int, code: str, title: str, details: Mapping[str, Any]) -> dict[str, Any]:
    """The app's error, as Opsgenie writes it (for :func:`provider.errors.register_error_format`)."""
    source = details.get("source")
    where = None
    if isinstance(source, Mapping):
        where = source.get("parameter") or str(source.get("pointer") or "").lstrip("/") or None
    body = OpsgenieError(
        message=title,
        took=took(),
        request_id=g.get("request_id", ""),
        errors={str(where): title} if where else None,
    )
    return body.model_dump(mode="json")
