"""The served ``/v1`` and ``/v2`` documents, built from a throwaway app's routes (no database)."""

from __future__ import annotations

import functools
from typing import Any

from provider.app import create_app
from provider.ops.openapi import ops_document
from provider.ops.openapi import opsgenie_document
from tests.conftest import make_settings


@functools.cache
def _app() -> Any:
    return create_app(make_settings("sqlite://"), configure_logs=False)


@functools.cache
def _document() -> dict[str, Any]:
    return ops_document(_app())


@functools.cache
def _opsgenie_document() -> dict[str, Any]:
    return opsgenie_document(_app())


def build_document(base_url: str | None = None) -> dict[str, Any]:
    """A fresh copy of the document; ``base_url`` is always the test settings' one."""
    import copy

    return copy.deepcopy(_document())


def build_opsgenie_document() -> dict[str, Any]:
    """A fresh copy of the ``/v2`` (Opsgenie protocol) document."""
    import copy

    return copy.deepcopy(_opsgenie_document())
