"""Payload validation against the JSON schemas of the Operations and DevOps Components APIs.

A submission is checked in two steps, the way Jira answers: the envelope (top-level keys,
``properties``, array sizes) decides between a 400 and going on; each entity is then checked on
its own, and a bad one becomes a ``failed…`` entry instead of failing the whole request.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator
from jsonschema import FormatChecker
from referencing import Registry
from referencing import Resource

SCHEMA_FILES = (
    "common.json",
    "incident.json",
    "review.json",
    "component.json",
    "submit_operations.json",
    "submit_components.json",
    "actions.json",
)
BASE_ID = "https://example.invalid/jira-provider/"

# RFC 3339 date-time: a date, "T", a time, optional fraction, and a mandatory offset.
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$",
)

_format_checker = FormatChecker(formats=())


@_format_checker.checks("date-time")
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _RFC3339.match(value):
        return False
    try:
        datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
    except ValueError:
        return False
    return True


@_format_checker.checks("uri")
def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if any(c.isspace() for c in value):
        return False
    parts = urlsplit(value)
    return bool(parts.scheme) and bool(parts.netloc or parts.path)


def load_schema(name: str) -> dict[str, Any]:
    text = resources.files("jira_simulator").joinpath("schemas", name).read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _registry() -> Registry:
    resources_ = [
        (BASE_ID + name, Resource.from_contents(load_schema(name))) for name in SCHEMA_FILES
    ]
    return Registry().with_resources(resources_)


@cache
def _validator(name: str, envelope: bool = False) -> Draft202012Validator:
    schema = load_schema(name)
    if envelope:
        # The envelope check looks only at the shape of each array, never inside the entities.
        schema = copy.deepcopy(schema)
        for key in ("incidents", "reviews", "devopsComponents"):
            if key in schema.get("properties", {}):
                schema["properties"][key]["items"] = {"type": "object"}
    return Draft202012Validator(schema, registry=_registry(), format_checker=_format_checker)


def _def_validator(name: str, pointer: str) -> Draft202012Validator:
    return Draft202012Validator(
        {"$ref": f"{BASE_ID}{name}#/$defs/{pointer}"},
        registry=_registry(),
        format_checker=_format_checker,
    )


@cache
def _action_validator(pointer: str) -> Draft202012Validator:
    return _def_validator("actions.json", pointer)


@cache
def _workspaces_validator() -> Draft202012Validator:
    return _def_validator("submit_operations.json", "SubmitOperationsWorkspacesRequest")


def _messages(validator: Draft202012Validator, instance: object) -> list[str]:
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    out = []
    for error in errors:
        where = "/".join(str(p) for p in error.absolute_path)
        out.append(f"{where or '(root)'}: {error.message}"[:500])
    return out


@dataclass(frozen=True, slots=True)
class EnvelopeResult:
    kind: str  # "incidents", "reviews" or "devopsComponents"
    entities: list[Any]
    properties: dict[str, str]


def check_operations_envelope(body: object) -> tuple[EnvelopeResult | None, list[str]]:
    """Validate the body of ``POST /rest/operations/1.0/bulk`` at request level."""
    errors = _messages(_validator("submit_operations.json", True), body)
    if errors:
        return None, errors
    assert isinstance(body, dict)  # noqa: S101 - guaranteed by the schema just checked
    if "incidents" in body and "reviews" in body:
        # The spec's anyOf would allow both; Jira's clients send one kind per request, and
        # the response has room for one kind only, so the simulator insists on it.
        return None, ["(root): send incidents and reviews in separate requests"]
    kind = "incidents" if "incidents" in body else "reviews"
    return EnvelopeResult(kind, list(body[kind]), dict(body.get("properties") or {})), []


def check_components_envelope(body: object) -> tuple[EnvelopeResult | None, list[str]]:
    """Validate the body of ``POST /rest/devopscomponents/1.0/bulk`` at request level."""
    errors = _messages(_validator("submit_components.json", True), body)
    if errors:
        return None, errors
    assert isinstance(body, dict)  # noqa: S101 - guaranteed by the schema just checked
    entities = list(body["devopsComponents"])
    return EnvelopeResult("devopsComponents", entities, dict(body.get("properties") or {})), []


ENTITY_SCHEMAS = {
    "incidents": "incident.json",
    "reviews": "review.json",
    "devopsComponents": "component.json",
}


def check_entity(kind: str, entity: object) -> list[str]:
    """Return the schema violations of one entity (empty when it is valid)."""
    return _messages(_validator(ENTITY_SCHEMAS[kind]), entity)


def check_linked_workspaces(body: object) -> list[str]:
    return _messages(_workspaces_validator(), body)


def check_action_response(definition: str, body: object) -> list[str]:
    """Validate what the app answered to an action (e.g. ``FetchWorkspacesResponse``)."""
    return _messages(_action_validator(definition), body)
