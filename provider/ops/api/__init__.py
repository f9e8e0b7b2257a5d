"""The ``/v1`` operations API (JSM-operations compatible): blueprints and their shared helpers."""

from __future__ import annotations

from flask import Flask

from provider.config import Settings


def init_app(app: Flask, settings: Settings) -> None:
    from provider.ops.api import alerts
    from provider.ops.api import components
    from provider.ops.api import incidents
    from provider.ops.api import openapi
    from provider.ops.api.common import init_api

    init_api(app, settings.api_rate_limit_per_minute)
    app.register_blueprint(components.bp)
    app.register_blueprint(alerts.bp)
    app.register_blueprint(incidents.bp)
    app.register_blueprint(openapi.bp)
