"""Fuzz every ``/v1`` and ``/v2`` operation from the OpenAPI documents and hold the app to them.

Each operation gets a fresh workspace with a component, an integration, an alert and a note, so
about half of the generated requests name real objects and reach the handlers' deeper paths. The
checks: no 5xx, every status code, content type and body as documented, and every accepted
(202) write is then processed without crashing the processor. Bounded and derandomized, so a run
is repeatable and takes a minute or two per database.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance
from schemathesis.specs.openapi.checks import response_headers_conformance
from schemathesis.specs.openapi.checks import response_schema_conformance
from schemathesis.specs.openapi.checks import status_code_conformance
from sqlalchemy import select

from provider.ops.alerts.models import AlertRequest
from provider.ops.alerts.processing import STATUS_FAILED
from tests.conftest import TEST_BASE_URL
from tests.ops.conftest import Api
from tests.ops.openapi_doc import build_document
from tests.ops.openapi_doc import build_opsgenie_document

MAX_EXAMPLES = 25
SEEDED_ALIAS = "fuzz-alias"
SEEDED_HEARTBEAT = "fuzz-heartbeat"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

schema = schemathesis.openapi.from_dict(build_document(TEST_BASE_URL))
opsgenie_schema = schemathesis.openapi.from_dict(build_opsgenie_document())
FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@dataclass
class Seeded:
    """Real objects of the caller's workspace, by the path parameter that names them."""

    ids: dict[str, str]
    integration_key: str
    turn: itertools.count[int]


@pytest.fixture
def seeded(api: Api) -> Seeded:
    component = api.post("/v1/components", json={"name": "checkout"}).get_json()
    integration = api.post("/v1/integrations", json={"name": "Monitoring"}).get_json()
    actions = api.get(f"/v1/integrations/{integration['id']}/actions").get_json()
    alert = api.create_alert(alias=SEEDED_ALIAS, tags=["a"], extraProperties={"k": "v"})
    assert api.post(f"/v1/alerts/{alert['id']}/notes", json={"note": "n"}).status_code == 202
    api.process()
    note = api.get(f"/v1/alerts/{alert['id']}/notes").get_json()["values"][0]
    created = api.post("/v1/alerts", json={"message": "second"}).get_json()
    heartbeat = {"name": SEEDED_HEARTBEAT, "interval": 5, "intervalUnit": "minutes"}
    assert api.post("/v1/heartbeats", json=heartbeat).status_code == 201
    return Seeded(
        ids={
            "identifier": alert["id"],
            "noteId": note["id"],
            "componentId": component["id"],
            "integrationId": integration["id"],
            "actionId": actions["values"][0]["id"],
            "requestId": created["requestId"],
            "name": SEEDED_HEARTBEAT,
        },
        integration_key=integration["apiKey"],
        turn=itertools.count(),
    )


@schema.parametrize()
@FUZZ_SETTINGS
def test_api_conforms_to_its_document(case: schemathesis.Case, api: Api, seeded: Seeded) -> None:
    _call(case, api, seeded)


@opsgenie_schema.parametrize()
@FUZZ_SETTINGS
def test_opsgenie_api_conforms_to_its_document(
    case: schemathesis.Case, api: Api, seeded: Seeded
) -> None:
    _call(case, api, seeded)


def _call(case: schemathesis.Case, api: Api, seeded: Seeded) -> None:
    # Every second case names the seeded objects; the others keep the generated ids (404s).
    if next(seeded.turn) % 2 == 0:
        for name in case.path_parameters or {}:
            if name in seeded.ids:
                case.path_parameters[name] = seeded.ids[name]
        if isinstance(case.query, dict) and "alias" in case.query:
            case.query["alias"] = SEEDED_ALIAS
    key = seeded.integration_key if case.path.endswith("/events") else api.key
    response = case.call_and_validate(
        app=api.client.application,
        headers={"Authorization": f"GenieKey {key}"},
        checks=CHECKS,
    )
    # Every 202 of the alerts is a request to process; a heartbeat's ping is answered at once.
    if response.status_code == 202 and "/alerts" in case.path:
        _assert_processes_cleanly(api, response.json()["requestId"])


def _assert_processes_cleanly(api: Api, request_id: str) -> None:
    api.process()
    with api.session_factory() as session:
        request = session.scalars(
            select(AlertRequest).where(AlertRequest.public_id == request_id)
        ).one()
        assert request.status_message != STATUS_FAILED, request.payload


@pytest.mark.parametrize(
    ("fuzzed", "document"),
    [(schema, build_document(TEST_BASE_URL)), (opsgenie_schema, build_opsgenie_document())],
    ids=["v1", "v2"],
)
def test_every_operation_is_fuzzed(
    fuzzed: schemathesis.schemas.BaseSchema, document: dict[str, object]
) -> None:
    operations = [result.ok() for result in fuzzed.get_all_operations()]
    documented = sum(len(item) for item in document["paths"].values())  # type: ignore[attr-defined]

    assert len(operations) == documented
