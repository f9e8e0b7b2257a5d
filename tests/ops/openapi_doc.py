"""The served ``/v1`` document, built from a throwaway app's routes (no database needed)."""

from __future__ import annotations

import functools
from typing import Any

from provider.app import create_app
from provider.ops.openapi import ops_document
from tests.conftest import make_settings


@functools.cache
def _document() -> dict[str, Any]:
    return ops_document(create_app(make_settings("sqlite://"), configure_logs=False))


def build_document(base_url: str | None = None) -> dict[str, Any]:
    """A fresh copy of the document; ``base_url`` is always the test settings' one."""
    import copy

    return copy.deepcopy(_document())
