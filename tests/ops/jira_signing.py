"""Sign requests the way Jira signs its action calls to the app (HS256, ``qsh`` of the request)."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from provider.connect.jwt import sign_hs256
from provider.connect.models import Installation

SHARED_SECRET = "s" * 40  # what tests.ops.incident_factories.make_installation encrypts


def jira_call(
    client: FlaskClient,
    installation: Installation,
    method: str,
    url: str,
    *,
    secret: str = SHARED_SECRET,
    **kwargs: Any,
) -> TestResponse:
    token = sign_hs256(iss=installation.client_key, secret=secret, method=method, url=url)
    headers = {"Authorization": f"JWT {token}", **kwargs.pop("headers", {})}
    return client.open(url, method=method, headers=headers, **kwargs)
