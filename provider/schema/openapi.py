"""Write the OpenAPI 3.1 document of an app from its routes' ``@endpoint`` declarations.

Nothing here is written by hand per operation: paths come from Flask's URL map, bodies,
parameters and responses from the models, and the error responses from what each operation
declares (and what its authentication adds). A documented prefix whose route has no declaration
is an error, so an undocumented route cannot be served.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from flask import Flask
from pydantic import BaseModel
from pydantic import Field
from pydantic.json_schema import GenerateJsonSchema
from pydantic.json_schema import JsonSchemaMode
from pydantic.json_schema import models_json_schema

from provider.schema.endpoint import FORM
from provider.schema.endpoint import JSON
from provider.schema.endpoint import Operation
from provider.schema.endpoint import auth_of
from provider.schema.endpoint import camel
from provider.schema.endpoint import operation_of
from provider.schema.fields import ResponseModel

Schema = dict[str, Any]
METHODS = ("get", "put", "post", "delete", "patch")
REF_TEMPLATE = "#/components/schemas/{model}"

# Every error status the API answers with: the response's name and what it means.
ERROR_STATUSES: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "The body is not JSON (or not an object), or text cannot be stored."),
    401: ("Unauthorized", "No API key, or the key is not valid."),
    403: ("Forbidden", "The key may not do this (permissions, or a disabled integration)."),
    404: ("NotFound", "No such object in the caller's workspace."),
    405: ("MethodNotAllowed", "The path exists, but not with this method."),
    409: ("Conflict", "The object conflicts with one that exists (a duplicate name)."),
    413: ("PayloadTooLarge", "The body is larger than the server accepts."),
    422: ("ValidationFailed", "A field, parameter, query or page is not valid."),
    429: ("TooManyRequests", "The key's rate limit is exhausted; retry after Retry-After."),
}

STATUS_TEXT = {
    200: "OK",
    201: "Created",
    202: "Accepted: the request is stored durably and will be processed; poll its status.",
}

# What a form-encoded body is: fields with text values.
FORM_FIELDS: Schema = {"type": "object", "additionalProperties": {"type": "string"}}

# Path segments name objects by id; a segment is never empty and never holds a slash.
PATH_SEGMENT: Schema = {"type": "string", "minLength": 1, "maxLength": 512, "pattern": "^[^/]+$"}


class ErrorSource(BaseModel):
    pointer: str | None = Field(default=None, description="JSON pointer into the body.")
    parameter: str | None = Field(default=None, description="The query parameter.")
    position: int | None = Field(default=None, description="In the query.")


class Error(BaseModel):
    title: str = Field(description="What is wrong, for a person.")
    code: str = Field(description="A stable machine code, e.g. `validation_failed`.")
    source: ErrorSource | None = None
    fields: dict[str, str] | None = Field(default=None, description="Every field error.")


class ErrorBody(ResponseModel):
    errors: list[Error] = Field(min_length=1)


@dataclass(frozen=True)
class DocumentInfo:
    """What the document says of the API as a whole."""

    title: str
    version: str
    description: str
    prefixes: tuple[str, ...]
    tags: tuple[str, ...] = ()
    security: tuple[Mapping[str, list[str]], ...] = ()
    security_schemes: Mapping[str, Schema] = field(default_factory=dict)
    error_body: type[BaseModel] = ErrorBody


class UndocumentedRoute(Exception):
    """A route under a documented prefix has no ``@endpoint`` declaration."""


class _Names(GenerateJsonSchema):
    """Component names without pydantic's module-path decorations (``Page[Alert]`` → ``AlertPage``)."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False  # "Avatarurl" says less than the property's own name

    def normalize_name(self, name: str) -> str:
        match = re.fullmatch(r"(\w+)\[(\w+)\]", name)
        if match:
            return f"{match.group(2)}{match.group(1)}"
        return re.sub(r"[^a-zA-Z0-9.\-_]", "_", name)


@dataclass
class _Route:
    path: str
    method: str
    arguments: list[str]
    op: Operation
    auth_security: tuple[Mapping[str, list[str]], ...] | None
    auth_errors: frozenset[int]
    endpoint: str


def _routes(app: Flask, prefixes: Iterable[str]) -> list[_Route]:
    found: list[_Route] = []
    prefixes = tuple(prefixes)
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(prefixes):
            continue
        view = app.view_functions[rule.endpoint]
        op = operation_of(view)
        if op is None:
            raise UndocumentedRoute(f"{rule.rule} ({rule.endpoint}) has no @endpoint declaration")
        auth = auth_of(view)
        arguments = re.findall(r"<(?:[^:<>]+:)?([^<>]+)>", rule.rule)
        path = re.sub(
            r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: "{" + camel(m.group(1)) + "}", rule.rule
        )
        for method in sorted(m.lower() for m in rule.methods or () if m.lower() in METHODS):
            found.append(
                _Route(
                    path=path,
                    method=method,
                    arguments=arguments,
                    op=op,
                    auth_security=auth.security if auth else None,
                    auth_errors=auth.errors if auth else frozenset(),
                    endpoint=rule.endpoint,
                )
            )
    return found


def _model_pairs(
    routes: list[_Route], error_body: type[BaseModel]
) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    pairs: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {
        (error_body, "serialization"): None
    }
    for route in routes:
        if route.op.body is not None:
            pairs[(route.op.body, "validation")] = None
        if route.op.query is not None:
            pairs[(route.op.query, "validation")] = None
        for spec in route.op.responses.values():
            if isinstance(spec, type):
                pairs[(spec, "serialization")] = None
    return list(pairs)


def _parameters(route: _Route, query_schema: Schema | None) -> list[Schema]:
    params: list[Schema] = []
    for name in route.arguments:
        wire = camel(name)
        schema = dict(route.op.path_parameters.get(wire, PATH_SEGMENT))
        description = schema.pop("description", None)
        param: Schema = {"name": wire, "in": "path", "required": True, "schema": schema}
        if description:
            param["description"] = description
        params.append(param)
    if query_schema is not None:
        required = set(query_schema.get("required", ()))
        for name, prop in query_schema.get("properties", {}).items():
            prop = dict(prop)
            prop.pop("title", None)
            description = prop.pop("description", None)
            param = {"name": name, "in": "query", "required": name in required, "schema": prop}
            if description:
                param["description"] = description
            params.append(param)
    return params


def _operation_id(route: _Route, seen: set[str]) -> str:
    base = route.op.operation_id or camel(route.endpoint.rsplit(".", 1)[-1])
    candidate = base
    if candidate in seen:
        candidate = f"{base}{route.method.capitalize()}"
    seen.add(candidate)
    return candidate


def _content(schema: Schema) -> Schema:
    return {"content": {JSON: {"schema": schema}}}


def build_document(
    app: Flask,
    info: DocumentInfo,
    *,
    server_url: str | None = None,
) -> Schema:
    """The document of every route under ``info.prefixes``.

    :raises UndocumentedRoute: for a route there without a declaration.
    """
    routes = _routes(app, info.prefixes)
    pairs = _model_pairs(routes, info.error_body)
    refs, defs = models_json_schema(pairs, ref_template=REF_TEMPLATE, schema_generator=_Names)
    schemas: Schema = dict(defs.get("$defs", {}))
    queries: dict[type[BaseModel], Schema] = {}
    for model, mode in pairs:
        if mode == "validation" and route_is_query(model, routes):
            name = refs[(model, mode)]["$ref"].rsplit("/", 1)[-1]
            queries[model] = schemas.pop(name)

    paths: dict[str, Schema] = {}
    used_errors: set[int] = set()
    seen_ids: set[str] = set()
    for route in sorted(routes, key=lambda r: (r.path, METHODS.index(r.method))):
        op = route.op
        out: Schema = {
            "operationId": _operation_id(route, seen_ids),
            "summary": op.summary,
            "tags": [op.tag],
        }
        if op.description:
            out["description"] = op.description
        params = _parameters(route, queries.get(op.query) if op.query else None)
        if params:
            out["parameters"] = params
        codes = set(op.errors)
        if op.body is not None:
            body = _content(refs[(op.body, "validation")])
            if op.form:
                body["content"][FORM] = {"schema": FORM_FIELDS}
            out["requestBody"] = {"required": op.body_required, **body}
            codes |= {400, 413, 422}
        if op.query is not None and params:
            codes.add(422)
        if route.arguments:
            codes.add(404)
        if op.public:
            out["security"] = []
        elif route.auth_security is not None:
            codes |= route.auth_errors
            if tuple(route.auth_security) != tuple(info.security):
                out["security"] = [dict(s) for s in route.auth_security]
        responses: Schema = {}
        for status, spec in sorted(op.responses.items()):
            if isinstance(spec, str):
                responses[str(status)] = {"description": spec}
            else:
                responses[str(status)] = {
                    "description": STATUS_TEXT.get(status, "OK"),
                    **_content(refs[(spec, "serialization")]),
                }
        for code in sorted(codes):
            responses[str(code)] = {"$ref": f"#/components/responses/{ERROR_STATUSES[code][0]}"}
        used_errors |= codes
        out["responses"] = responses
        paths.setdefault(route.path, {})[route.method] = out

    error_ref = refs[(info.error_body, "serialization")]
    document: Schema = {
        "openapi": "3.1.0",
        "info": {"title": info.title, "version": info.version, "description": info.description},
        "security": [dict(s) for s in info.security],
        "tags": [{"name": t} for t in info.tags],
        "paths": paths,
        "components": {
            "securitySchemes": {k: dict(v) for k, v in info.security_schemes.items()},
            "schemas": schemas,
            "responses": _error_responses(used_errors, error_ref),
        },
    }
    if server_url:
        document["servers"] = [{"url": server_url.rstrip("/") or "/"}]
    return document


def route_is_query(model: type[BaseModel], routes: list[_Route]) -> bool:
    return any(route.op.query is model for route in routes)


def _error_responses(codes: set[int], error_ref: Schema) -> Schema:
    out: Schema = {}
    for code in sorted(codes):
        name, description = ERROR_STATUSES[code]
        response: Schema = {"description": description, **_content(error_ref)}
        if code == 401:
            response["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
        if code == 429:
            response["headers"] = {
                "Retry-After": {"schema": {"type": "string", "pattern": "^[0-9]+$"}}
            }
        if code == 405:
            response["headers"] = {"Allow": {"schema": {"type": "string"}}}
        out[name] = response
    return out


def operations(document: Schema) -> set[tuple[str, str, str]]:
    """``(method, path, status)`` of every documented response: what a comparison looks at."""
    return {
        (method, path, status)
        for path, item in document["paths"].items()
        for method, op in item.items()
        for status in op["responses"]
    }
