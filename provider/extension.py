"""Typed per-app services: what the composition root builds once and request code reads back.

``SETTINGS = Extension[Settings]("settings")`` declares a slot; ``create_app`` fills it with
``SETTINGS.install(app, settings)``; a view reads ``SETTINGS.get()``. Nothing is looked up by a
bare string, and reading a slot the root did not fill fails loudly rather than with ``None``.
"""

from __future__ import annotations

from typing import Generic
from typing import TypeVar

from flask import Flask
from flask import current_app

from provider.config import Settings
from provider.crypto import SecretBox
from provider.ratelimit import RateLimiter

T = TypeVar("T")


class Extension(Generic[T]):
    """One named, typed slot in ``app.extensions``."""

    __slots__ = ("key",)

    def __init__(self, name: str) -> None:
        self.key = f"provider.{name}"

    def install(self, app: Flask, value: T) -> T:
        app.extensions[self.key] = value
        return value

    def of(self, app: Flask) -> T:
        try:
            value: T = app.extensions[self.key]
        except KeyError:
            raise LookupError(f"{self.key} was not installed by the composition root") from None
        return value

    def get(self) -> T:
        """The value for the app handling the current request."""
        return self.of(current_app)


SETTINGS: Extension[Settings] = Extension("settings")
SECRET_BOX: Extension[SecretBox] = Extension("secret_box")
RATE_LIMITER: Extension[RateLimiter] = Extension("rate_limiter")
