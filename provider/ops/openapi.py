"""``GET /v1/openapi.json``: the API's own description, generated from its routes, public."""

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
from provider.schema.endpoint import endpoint
from provider.schema.fields import ResponseModel
from provider.schema.openapi import DocumentInfo
from provider.schema.openapi import build_document

bp = Blueprint("ops_openapi", __name__, url_prefix="/v1")

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

_DOCUMENT: Extension[tuple[bytes, str]] = Extension("openapi_document")


class OpenApiDocument(ResponseModel):
    """An OpenAPI 3.1 document."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"required": ["openapi", "paths"]})


def ops_document(app: Flask) -> dict[str, Any]:
    """The ``/v1`` document of ``app``, with the app's base URL as its server.

    :raises UndocumentedRoute: when a ``/v1`` route has no ``@endpoint`` declaration.
    """
    return build_document(app, OPS_API, server_url=SETTINGS.of(app).base_url)


def _document_bytes() -> tuple[bytes, str]:
    """The serialized document and its ETag, built once per app on first use."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        return _DOCUMENT.of(app)
    except LookupError:
        data = json.dumps(ops_document(app), separators=(",", ":")).encode()
        return _DOCUMENT.install(app, (data, hashlib.sha256(data).hexdigest()[:32]))


@bp.get("/openapi.json")
@endpoint(
    "This document",
    tag="Meta",
    responses={200: OpenApiDocument},
    public=True,
    operation_id="getOpenApiDocument",
)
def openapi_document() -> Response:
    data, etag = _document_bytes()
    response = Response(data, mimetype="application/json")
    response.set_etag(etag)
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.make_conditional(request)
    return response
