"""The app as gunicorn serves it in production, plus one probe route for the raw-URI tests.

The probe exists only here: it takes any path (so a path can hold ``&`` and encoded characters)
behind the same request-bound JWT check as Jira's actions.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask import request

from provider.app import create_app
from provider.connect.auth import jira_jwt_required


def make_app() -> Flask:
    app = create_app()

    @app.route("/probe/<path:rest>", methods=["GET", "POST"])
    @jira_jwt_required(qsh="request")
    def probe(rest: str) -> dict[str, Any]:
        return {"rest": rest, "args": request.args.to_dict(flat=False)}

    return app
