"""Many alerts on one component at once open exactly one incident (real threads, real commits)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func
from sqlalchemy import select

from provider.db import make_engine
from provider.db import make_session_factory
from provider.ops.access.principal import ApiPrincipal
from provider.ops.alerts.processing import process_pending
from provider.ops.alerts.schemas import AlertCreate
from provider.ops.alerts.service import submit_create
from provider.ops.components.models import Component
from provider.ops.incidents import service
from provider.ops.incidents.models import Incident
from provider.ops.incidents.models import IncidentAlert
from provider.ops.incidents.models import IncidentComponent
from provider.ops.incidents.models import PromotionCandidate
from provider.ops.sync.links import bind_links
from provider.ops.workspaces.service import create_workspace
from provider.worker import alert_listeners
from tests.conftest import TEST_BASE_URL
from tests.ops.incident_factories import make_component

ALERTS = 100
THREADS = 4


@pytest.mark.parametrize("tags", [["component:checkout"], []], ids=["component", "fallback"])
def test_parallel_alerts_on_one_component_open_one_incident(
    fresh_database_url: str, tags: list[str]
) -> None:
    engine = make_engine(fresh_database_url)
    factory = bind_links(make_session_factory(engine), TEST_BASE_URL)
    hooks = alert_listeners()
    with factory() as session:
        workspace, _key, _code = create_workspace(session, "Race team")
        checkout_id = make_component(session, workspace, "checkout").id
        principal = ApiPrincipal(workspace=workspace, key_id="test")
        for i in range(ALERTS):
            priority = "P1" if i == 57 else ("P2" if i % 2 else "P3")
            data = AlertCreate.from_json(
                {"message": f"error {i}", "alias": f"a{i}", "priority": priority, "tags": tags}
            )
            submit_create(session, principal, data)
        session.commit()
        workspace_id = workspace.id

    errors: list[BaseException] = []

    def work() -> None:
        try:
            process_pending(factory, limit=ALERTS, listeners=hooks)
        except BaseException as e:  # reported below; a thread cannot fail the test itself
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []

    with factory() as session:
        incidents = session.scalars(
            select(Incident).where(Incident.workspace_id == workspace_id)
        ).all()
        assert len(incidents) == 1
        [incident] = incidents
        assert incident.severity == "P1"
        joined = session.scalar(
            select(func.count()).where(IncidentAlert.incident_id == incident.id)
        )
        # P1/P2 alerts join at once, and so does a P3 once the component has an open incident; a
        # P3 seen before that waits for its threshold instead.
        waiting = session.scalar(select(func.count()).select_from(PromotionCandidate))
        assert joined >= ALERTS // 2
        assert joined + waiting == ALERTS
        fallbacks = session.scalars(
            select(Component).where(
                Component.workspace_id == workspace_id, Component.is_fallback.is_(True)
            )
        ).all()
        assert len(fallbacks) == 1
        components = session.scalars(
            select(IncidentComponent.component_id).where(
                IncidentComponent.incident_id == incident.id
            )
        ).all()
        expected = checkout_id if tags else fallbacks[0].id
        assert components == [expected]
        assert service.count_open(session, workspace_id) == 1
    engine.dispose()
