"""``GET /v1/openapi.json``: the API's own description, public and cacheable."""

from __future__ import annotations

import hashlib
import json

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import request

from provider.config import Settings
from provider.ops.api.spec import build_document

bp = Blueprint("ops_openapi", __name__, url_prefix="/v1")

CACHE_KEY = "provider.openapi_document"
# Clients (and proxies) may keep it for a while; the ETag lets them revalidate for free.
CACHE_CONTROL = "public, max-age=3600"


def document_bytes() -> tuple[bytes, str]:
    """The serialized document and its ETag, built once per app (it depends on the base URL)."""
    cached: tuple[bytes, str] | None = current_app.extensions.get(CACHE_KEY)
    if cached is None:
        settings: Settings = current_app.extensions["provider.settings"]
        data = json.dumps(build_document(settings.base_url), separators=(",", ":")).encode()
        cached = (data, hashlib.sha256(data).hexdigest()[:32])
        current_app.extensions[CACHE_KEY] = cached
    return cached


@bp.get("/openapi.json")
def openapi_document() -> Response:
    data, etag = document_bytes()
    response = Response(data, mimetype="application/json")
    response.set_etag(etag)
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response.make_conditional(request)
