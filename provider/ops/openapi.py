"""``GET /v1/openapi.json`` and ``GET /v2/openapi.json``: the two APIs described by their routes.

The ``/v2`` document is Opsgenie's protocol: its own error body, the same keys.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import Blueprint
from flask import Flask
from flask import Response
from flask import current_app
from flask import request
from pydantic import ConfigDict

from provider.extension import SETTINGS
from provider.extension import Extension
from provider.ops.access.opsgenie import OpsgenieError
from provider.schema.endpoint import endpoint
from provider.schema.fields import ResponseModel
from provider.schema.openapi import DocumentInfo
from provider.schema.openapi import build_document

bp = Blueprint("ops_openapi", __name__)

# Clients (and proxies) may keep it for a while; the ETag lets them revalidate for free.
CACHE_CONTROL = "public, max-age=3600"

OPS_API = DocumentInfo(
    title="Operations provider API",
    version="1",
    description=(
        "A JSM-operations-compatible API: components, alerts, integrations, incidents and "
        "post-incident reviews of one workspace. JSON in and out, camelCase fields, ISO 8601 "
        'UTC times. Lists are `{"values", "count", "links": {"next"}}` (`offset`, `size` ≤ '
        '100); every error is `{"errors": [{"title", "code"}]}`; alert writes answer 202 and '
        "are processed asynchronously."
    ),
    prefixes=("/v1/",),
    tags=("Alerts", "Components", "Integrations", "Incidents", "Reviews", "Meta"),
    security=({"GenieKey": []}, {"BasicAuth": []}),
    security_schemes={
        "GenieKey": {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Authorization: GenieKey <key>` with a workspace or integration key.",
        },
        "BasicAuth": {
            "type": "http",
            "scheme": "basic",
            "description": "HTTP Basic with any user name and the key as the password.",
        },
    },
)

OPSGENIE_API = DocumentInfo(
    title="Operations provider API, Opsgenie protocol",
    version="2",
    description=(
        "Opsgenie's v2 alert and heartbeat API over the same workspace as `/v1`, for the tools "
        "that speak it (Alertmanager's `opsgenie_configs`, Grafana's Opsgenie contact point, the "
        "Opsgenie SDKs). Also served under `/jsm/ops/integration/v2/…`. Reads answer "
        "`{data, took, requestId}` (lists add `paging`), writes 202 `{result, took, requestId}`, "
        "errors `{message, took, requestId}`. `{identifier}` is read as `identifierType` says "
        "(`id`, `alias` or `tiny`). A trailing slash is accepted on every path."
    ),
    prefixes=("/v2/",),
    tags=("Alerts", "Heartbeats", "Meta"),
    security=OPS_API.security,
    security_schemes=OPS_API.security_schemes,
    error_body=OpsgenieError,
)

_DOCUMENTS: dict[str, Extension[tuple[bytes, str]]] = {
    "v1": Extension("openapi_document"),
    "v2": Extension("openapi_document_v2"),
}


class OpenApiDocument(ResponseModel):
    """An OpenAPI 3.1 document."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"required": ["openapi", "paths"]})


def ops_document(app: Flask) -> dict[str, Any]:
    """The ``/v1`` document of ``app``, with the app's base URL as its server.

    :raises UndocumentedRoute: when a ``/v1`` route has no ``@endpoint`` declaration.
    """
    return build_document(app, OPS_API, server_url=SETTINGS.of(app).base_url)


def opsgenie_document(app: Flask) -> dict[str, Any]:
    """The ``/v2`` document of ``app``.

    :raises UndocumentedRoute: when a ``/v2`` route has no ``@endpoint`` declaration.
    """
    return build_document(app, OPSGENIE_API, server_url=SETTINGS.of(app).base_url)


BUILDERS = {"v1": ops_document, "v2": opsgenie_document}


def _document_bytes(version: str) -> tuple[bytes, str]:
    """The serialized document and its ETag, built once per app on first use."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    cached = _DOCUMENTS[version]
    try:
        return cached.of(app)
    except LookupError:
        data = json.dumps(BUILDERS[version](app), separators=(",", ":")).encode()
        return cached.install(app, (data, hashlib.sha256(data).hexdigest()[:32]))


def _serve(version: str) -> Response:
    data, etag = _document_bytes(version)
    response = Response(data, mimetype="application/json")
    response.set_etag(etag)
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.make_conditional(request)
    return response


THIS_DOCUMENT = endpoint(
    "This document",
    tag="Meta",
    responses={200: OpenApiDocument},
    public=True,
    operation_id="getOpenApiDocument",
)


@bp.get("/v1/openapi.json")
@THIS_DOCUMENT
def openapi_document() -> Response:
    return _serve("v1")


@bp.get("/v2/openapi.json")
@THIS_DOCUMENT
def opsgenie_openapi_document() -> Response:
    return _serve("v2")
