"""The cost of a tenant's configuration is bounded, and a costly one delays only its workspace.

The outside review's cases: catastrophic patterns in filters, mappings and templates, as many
conditions as a filter holds, concurrent dry-runs. What is asserted is the bound itself (the
evaluations one alert or request may make, the counts a workspace may save) and the order of
the work (another workspace's alert is processed in the first worker tick, ahead of the
hostile backlog); how long that takes in seconds is measured by the storm scenario of
``make bench``, not here.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from bench import hostile
from provider.ops.alerts.models import AlertRequest
from provider.ops.alerts.models import RequestState
from provider.ops.alerts.processing import process_pending
from provider.ops.incidents.configuration import MAX_MAPPINGS_PER_WORKSPACE
from provider.ops.incidents.configuration import MAX_RULES_PER_WORKSPACE
from provider.ops.incidents.models import ComponentMapping
from provider.ops.incidents.models import IncidentRule
from provider.ops.integrations import engine
from provider.ops.integrations.models import Integration
from provider.ops.integrations.models import IntegrationAction
from provider.ops.integrations.service import MAX_OUTGOING_ACTIONS_PER_WORKSPACE
from provider.ops.integrations.service import action_spec
from provider.ops.integrations.service import list_actions
from provider.ops.lang.regex import MAX_EVALUATIONS
from provider.ops.lang.regex import Budget
from provider.ops.workspaces.service import create_workspace
from provider.worker import ALERT_BATCH
from provider.worker import alert_listeners
from tests.ops.conftest import Api
from tests.ops.incident_factories import make_component
from tests.test_app import assert_error

NOWHERE = "http://127.0.0.1:9/never"


def _call(api: Api) -> hostile.Call:
    def call(method: str, path: str, body: dict[str, Any] | None) -> tuple[int, Any]:
        response = api.call(method, path, json=body)
        return response.status_code, response.get_json(silent=True)

    return call


def _fill(session: Session, model: Any, limit: int, **where: Any) -> None:
    """Copies of the one row saved through the API, up to the limit (saving hundreds of them
    through the API is what the storm scenario does; here it would only be slow)."""
    query = select(model)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    rows = session.scalars(query).all()
    (row,) = rows
    columns = [c.key for c in model.__table__.columns if c.key not in ("id", "public_id")]
    for _ in range(limit - len(rows)):
        session.add(model(**{c: getattr(row, c) for c in columns}))
    session.commit()


@pytest.fixture
def hostile_api(api: Api, session: Session) -> tuple[Api, dict[str, Any]]:
    component = make_component(session, api.workspace, "victim")
    session.commit()
    integration = hostile.configure(
        _call(api), component_id=component.public_id, url=NOWHERE, copies=1
    )
    workspace_id = api.workspace.id
    _fill(session, IntegrationAction, MAX_OUTGOING_ACTIONS_PER_WORKSPACE, direction="outgoing")
    _fill(session, IncidentRule, MAX_RULES_PER_WORKSPACE, workspace_id=workspace_id)
    _fill(session, ComponentMapping, MAX_MAPPINGS_PER_WORKSPACE, workspace_id=workspace_id)
    return api, integration


def _request(api: Api, request_id: str) -> AlertRequest:
    with api.session_factory() as session:
        return session.scalars(
            select(AlertRequest).where(AlertRequest.public_id == request_id)
        ).one()


def test_a_workspace_may_configure_only_so_much(
    hostile_api: tuple[Api, dict[str, Any]], session: Session
) -> None:
    api, integration = hostile_api
    base = f"/v1/integrations/{integration['id']}/actions"
    assert_error(api.post(base, json=hostile.outgoing_action(0, NOWHERE)), 422, "too_many_actions")
    assert_error(api.post("/v1/incident-rules", json={"name": "one more"}), 422, "too_many_rules")
    component = make_component(session, api.workspace, "one more")
    session.commit()
    mapping = {"type": "entity", "value": "x", "componentId": component.public_id}
    assert_error(api.post("/v1/component-mappings", json=mapping), 422, "too_many_mappings")
    too_many_templates = {**hostile.incoming_action(), "fieldMappings": {"tags": ["{{x}}"] * 51}}
    error = assert_error(api.post(base, json=too_many_templates), 422)
    assert "tags" in error["title"]
    conditions = hostile.conditions() + hostile.conditions()[:1]
    too_many_conditions = {**hostile.incoming_action(), "filter": {
        "conditionMatchType": "match-any-condition", "conditions": conditions}}  # fmt: skip
    assert_error(api.post(base, json=too_many_conditions), 422)


def test_a_hostile_workspace_delays_only_itself(
    hostile_api: tuple[Api, dict[str, Any]], other_api: Api
) -> None:
    api, _integration = hostile_api
    backlog = []
    for n in range(2 * ALERT_BATCH):
        response = api.post("/v1/alerts", json=hostile.poisoned_alert(n, priority="P1"))
        assert response.status_code == 202
        backlog.append(response.get_json()["requestId"])
    response = other_api.post("/v1/alerts", json={"message": "disk full", "alias": "db"})
    assert response.status_code == 202
    victim = response.get_json()["requestId"]

    # One tick of the worker, as build_worker runs it: the other workspace's alert is in it,
    # though fifty hostile requests were accepted before it.
    process_pending(api.session_factory, listeners=alert_listeners(), limit=ALERT_BATCH)
    done = _request(other_api, victim)
    assert done.state is RequestState.PROCESSED
    assert done.is_success, done.status_message

    other_api.process()
    for request_id in backlog:
        request = _request(api, request_id)
        assert request.state is RequestState.PROCESSED
        assert request.is_success, request.status_message
        # every listener's patterns shared one budget, and the request says it ran out
        assert "budget was spent" in (request.status_message or "")
        spent = int(request.status_message.split("(")[1].split(" ")[0])  # type: ignore[union-attr]
        assert spent <= MAX_EVALUATIONS + 1


def test_an_event_runs_every_filter_and_template_within_one_budget(
    hostile_api: tuple[Api, dict[str, Any]], session: Session
) -> None:
    api, integration = hostile_api
    row = session.scalars(select(Integration).where(Integration.public_id == integration["id"]))
    actions = [action_spec(a) for a in list_actions(session, row.one(), direction="incoming")]
    budget = Budget()
    decision = engine.decide(actions, {"message": hostile.POISON}, budget)
    # the filter's patterns and then every extract() of every template, on one budget
    assert decision.rendered is not None
    assert hostile.MAX_CONDITIONS < budget.evaluations <= MAX_EVALUATIONS + 1

    response = api.client.post(
        f"/v1/integrations/{integration['id']}/events",
        json={"message": hostile.POISON},
        headers={"Authorization": f"GenieKey {integration['apiKey']}"},
    )
    assert response.status_code == 202, response.get_json()
    dry_run = api.post(
        f"/v1/integrations/{integration['id']}/actions/test",
        json={"payload": {"message": hostile.POISON}},
    )
    assert dry_run.status_code == 200, dry_run.get_json()


def test_concurrent_hostile_dry_runs_leave_room_for_another_workspace(
    live: tuple[str, Any], databases: Any
) -> None:
    base, factory = live
    with factory.begin() as session:
        _bad, bad_key, _ = create_workspace(session, "Hostile")
        _good, good_key, _ = create_workspace(session, "Quiet")
    http = requests.Session()

    def post(key: str, path: str, body: Any) -> requests.Response:
        return http.post(
            f"{base}{path}", json=body, headers={"Authorization": f"GenieKey {key}"}, timeout=120
        )

    integration = post(bad_key, "/v1/integrations", {"name": "Costly", "type": "API"}).json()
    path = f"/v1/integrations/{integration['id']}/actions"
    assert post(bad_key, path, hostile.incoming_action()).status_code in (200, 201)
    dry = {"payload": {"message": hostile.POISON}}
    with ThreadPoolExecutor(max_workers=13) as pool:
        runs = [pool.submit(post, bad_key, f"{path}/test", dry) for _ in range(12)]
        quiet = post(good_key, "/v1/alerts", {"message": "disk full", "alias": "db"})
        assert quiet.status_code == 202
        assert all(r.result().status_code == 200 for r in runs)
    process_pending(factory, listeners=alert_listeners(), limit=ALERT_BATCH)
    status = http.get(
        f"{base}/v1/alerts/requests/{quiet.json()['requestId']}",
        headers={"Authorization": f"GenieKey {good_key}"},
        timeout=30,
    ).json()
    assert status["isSuccess"], status


def test_a_workspace_whose_requests_are_costly_waits_for_the_next_tick(
    api: Api, other_api: Api
) -> None:
    for n in range(10):
        assert api.post("/v1/alerts", json={"message": "m", "alias": f"a{n}"}).status_code == 202
    victim = other_api.post("/v1/alerts", json={"message": "m"}).get_json()["requestId"]
    # with a threshold of zero every request counts as costly: one turn per workspace
    listeners = alert_listeners()
    assert process_pending(api.session_factory, listeners=listeners, costly_seconds=0) == 2
    assert _request(other_api, victim).state is RequestState.PROCESSED
    assert process_pending(api.session_factory, listeners=listeners, costly_seconds=0) == 1
    assert process_pending(api.session_factory, listeners=listeners) == 8
