"""The OpenAPI document: valid 3.1, public, cacheable, and in step with the routes of the app."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from provider.app import create_app
from provider.config import Settings
from provider.ops.openapi import ops_document
from provider.schema.openapi import ERROR_STATUSES
from provider.schema.openapi import UndocumentedRoute
from provider.schema.openapi import operations
from tests.conftest import TEST_BASE_URL
from tests.ops.conftest import make_api
from tests.ops.openapi_doc import build_document

METHODS = {"get", "post", "put", "patch", "delete"}


def _template(path: str) -> str:
    # Flask writes <name>, OpenAPI {name}; the names may differ (component_id / componentId).
    return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", path)


def _app_operations(app: Flask) -> set[tuple[str, str]]:
    return {
        (method.lower(), _template(rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/v1/") or rule.rule == "/v1"
        for method in rule.methods or ()
        if method.lower() in METHODS
    }


def _document_operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method, _template(path))
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }


def _resolve(document: dict[str, Any], pointer: str) -> Any:
    assert pointer.startswith("#/"), pointer
    node: Any = document
    for part in pointer[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def test_document_is_served_without_a_key(client: FlaskClient) -> None:
    response = client.get("/v1/openapi.json")

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    document = response.get_json()
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": TEST_BASE_URL}]


def test_document_is_cacheable_and_revalidates_with_its_etag(client: FlaskClient) -> None:
    first = client.get("/v1/openapi.json")
    assert "max-age" in first.headers["Cache-Control"]
    etag = first.headers["ETag"]

    again = client.get("/v1/openapi.json", headers={"If-None-Match": etag})
    stale = client.get("/v1/openapi.json", headers={"If-None-Match": '"something-else"'})

    assert again.status_code == 304
    assert again.data == b""
    assert stale.status_code == 200
    assert stale.data == first.data


def test_document_is_valid_openapi_3_1(client: FlaskClient) -> None:
    document = client.get("/v1/openapi.json").get_json()

    schemathesis.openapi.from_dict(document).validate()  # raises on an invalid document


def test_a_broken_document_is_caught_by_the_validator() -> None:
    document = build_document(TEST_BASE_URL)
    document["paths"]["/v1/components"]["get"]["responses"]["200"]["description"] = 5

    with pytest.raises(Exception, match="description"):
        schemathesis.openapi.from_dict(document).validate()


def test_every_schema_is_valid_json_schema_2020_12() -> None:
    document = build_document(TEST_BASE_URL)
    for name, schema in document["components"]["schemas"].items():
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as e:  # pragma: no cover - the message says which
            pytest.fail(f"components.schemas.{name}: {e.message}")


def test_every_reference_resolves() -> None:
    document = build_document(TEST_BASE_URL)
    refs = set(_refs(document))

    assert refs
    for pointer in sorted(refs):
        assert _resolve(document, pointer) is not None, pointer


def test_every_v1_route_is_documented_and_every_documented_operation_exists(app: Flask) -> None:
    in_app = _app_operations(app)
    documented = _document_operations(build_document(TEST_BASE_URL))

    assert in_app - documented == set(), "routes missing from the document"
    assert documented - in_app == set(), "documented operations the app does not have"


def test_path_parameters_match_the_routes(app: Flask) -> None:
    document = build_document(TEST_BASE_URL)
    for path, item in document["paths"].items():
        names = re.findall(r"\{([^}]+)\}", path)
        for method, op in item.items():
            declared = [p["name"] for p in op.get("parameters", []) if p.get("in") == "path"]
            assert declared == names, f"{method.upper()} {path}"


def test_operations_have_unique_ids_and_document_their_errors() -> None:
    document = build_document(TEST_BASE_URL)
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    error_refs = {f"#/components/responses/{name}" for name, _ in ERROR_STATUSES.values()}
    for path, item in document["paths"].items():
        for method, op in item.items():
            responses = op["responses"]
            assert any(code.startswith("2") for code in responses), f"{method} {path}"
            for code, response in responses.items():
                if code.startswith("4"):
                    assert response.get("$ref") in error_refs, f"{method} {path} {code}"
            if op.get("security") != []:
                assert {"400", "401", "403", "429"} <= responses.keys(), f"{method} {path}"


def test_security_schemes_describe_geniekey_and_basic() -> None:
    document = build_document(TEST_BASE_URL)
    schemes = document["components"]["securitySchemes"]

    assert schemes["GenieKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": schemes["GenieKey"]["description"],
    }
    assert "GenieKey <key>" in schemes["GenieKey"]["description"]
    assert schemes["BasicAuth"]["type"] == "http"
    assert schemes["BasicAuth"]["scheme"] == "basic"
    assert document["security"] == [{"GenieKey": []}, {"BasicAuth": []}]
    assert document["paths"]["/v1/openapi.json"]["get"]["security"] == []


def _inline(document: dict[str, Any], node: Any) -> Any:
    """``node`` with every ``$ref`` replaced by its target (the document has no cycles)."""
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            return _inline(document, _resolve(document, node["$ref"]))
        return {key: _inline(document, value) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(document, value) for value in node]
    return node


def test_errors_the_app_returns_match_the_error_body(client: FlaskClient) -> None:
    document = build_document(TEST_BASE_URL)
    schema = _inline(document, document["components"]["schemas"]["ErrorBody"])
    answers = [
        client.get("/v1/components"),  # no key: 401
        client.get("/v1/components", headers={"Authorization": "GenieKey nope"}),  # 401
        client.get("/v1/components?size=0", headers={"Authorization": "Basic !!"}),  # 401
    ]

    for response in answers:
        assert response.status_code == 401
        jsonschema.validate(response.get_json(), schema, cls=jsonschema.Draft202012Validator)


def test_served_document_is_the_one_the_fuzzer_uses(client: FlaskClient) -> None:
    assert client.get("/v1/openapi.json").get_json() == build_document(TEST_BASE_URL)


def test_size_and_rate_limits_answer_as_documented(
    settings: Settings, session: Session, session_factory: sessionmaker[Session]
) -> None:
    # The fuzzer never reaches these limits with the default settings; tighten them here.
    app = create_app(
        settings.with_(api_rate_limit_per_minute=1, max_request_bytes=2048),
        session_factory=session_factory,
        configure_logs=False,
    )
    api = make_api(app.test_client(), session, session_factory, "Limits")
    operation = schemathesis.openapi.from_dict(build_document(TEST_BASE_URL))["/v1/alerts"]["POST"]

    too_large = api.post("/v1/alerts", json={"message": "x" * 5000})
    too_many = api.post("/v1/alerts", json={"message": "again"})

    assert too_large.status_code == 413
    assert too_many.status_code == 429
    for response in (too_large, too_many):
        assert str(response.status_code) in operation.definition.raw["responses"]
        operation.validate_response(response)


def test_schema_names_are_plain_names() -> None:
    # Two models or enums of one name (a filter's MatchType and a mapping's) come out named by
    # their module path: give one of them another name, or describe it inline.
    names = build_document(TEST_BASE_URL)["components"]["schemas"]
    assert [name for name in names if not name.isidentifier()] == []


# ── the generated document against the hand-written one it replaced ────────────────────────────


def test_every_operation_and_status_of_the_first_wave_document_is_still_described() -> None:
    path = Path(__file__).resolve().parents[1] / "data" / "openapi-first-wave-operations.txt"
    before = {
        tuple(line.split())
        for line in path.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert len(before) > 300
    assert before - operations(build_document(TEST_BASE_URL)) == set()


def test_a_route_without_a_declaration_cannot_be_served_undocumented(app: Flask) -> None:
    @app.get("/v1/undeclared")
    def undeclared() -> dict[str, str]:
        return {}

    with pytest.raises(UndocumentedRoute, match="/v1/undeclared"):
        ops_document(app)
