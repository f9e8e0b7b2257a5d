"""Alerts become incidents: promotion, joining, severity, components, issue keys, resolution."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.ops.alerts.models import Alert
from provider.ops.alerts.models import AlertEvent
from provider.ops.alerts.models import AlertStatus
from provider.ops.components.models import Component
from provider.ops.incidents import describe
from provider.ops.incidents import promotion
from provider.ops.incidents.listener import IncidentsListener
from provider.ops.incidents.models import Incident
from provider.ops.incidents.models import IncidentAlert
from provider.ops.incidents.models import IncidentComponent
from provider.ops.incidents.models import IncidentStatus
from provider.ops.incidents.models import PromotionCandidate
from provider.ops.lang.regex import Budget
from provider.ops.workspaces import linking
from provider.outbox.models import OutboxMessage
from provider.times import utcnow
from tests.ops.conftest import Api
from tests.ops.contract import contract_errors
from tests.ops.incident_factories import make_component
from tests.ops.incident_factories import make_installation


def _link(session: Session, api: Api) -> Any:
    inst = make_installation(session)
    linking.link_workspace(session, inst, api_key=api.key)
    session.commit()
    return inst


def _incidents(session: Session, api: Api) -> list[Incident]:
    session.expire_all()
    return list(
        session.scalars(
            select(Incident).where(Incident.workspace_id == api.workspace.id).order_by(Incident.id)
        )
    )


def _incident_messages(session: Session, inst: Any) -> list[OutboxMessage]:
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.installation_id == inst.id, OutboxMessage.kind == "incident")
            .order_by(OutboxMessage.id)
        )
    )


def test_p1_opens_incident_with_component_severity_and_issue_keys(
    api: Api, session: Session
) -> None:
    checkout = make_component(session, api.workspace, "checkout")
    inst = _link(session, api)
    alert = api.create_alert(
        message="Checkout 5xx", priority="P1", tags=["component:checkout", "jira:OPS-12"]
    )

    [incident] = _incidents(session, api)
    assert incident.status is IncidentStatus.OPEN
    assert incident.severity == "P1"
    assert incident.summary == "Checkout 5xx"
    assert incident.issue_keys == ["OPS-12"]
    [message] = _incident_messages(session, inst)
    payload = message.payload
    assert contract_errors("incident.json", payload) == []
    assert payload["affectedComponents"] == [checkout.public_id]
    assert payload["severity"] == {"level": "P1"}
    assert payload["associations"] == [{"associationType": "issueIdOrKeys", "values": ["OPS-12"]}]
    assert message.group_key == api.workspace.public_id
    assert alert["message"] == "Checkout 5xx"


def test_alerts_on_the_same_component_join_and_severity_only_rises(
    api: Api, session: Session
) -> None:
    make_component(session, api.workspace, "checkout")
    session.commit()
    api.create_alert(message="slow", priority="P2", entity="checkout", alias="a")
    first = _incidents(session, api)[0]
    usn_before = first.update_sequence_number
    p1 = api.create_alert(message="down", priority="P1", entity="checkout", alias="b")
    api.create_alert(message="noise", priority="P3", entity="checkout", alias="c")

    [incident] = _incidents(session, api)
    assert incident.severity == "P1"
    raised_by = session.get_one(Alert, incident.severity_alert_id)
    assert raised_by.public_id == p1["id"]
    assert len(describe.alert_ids_of(session, incident)) == 3
    assert incident.update_sequence_number > usn_before


def test_an_alert_on_two_components_joins_the_first_incident_which_collects_only_its_own(
    api: Api, session: Session
) -> None:
    checkout = make_component(session, api.workspace, "checkout")
    payments = make_component(session, api.workspace, "payments")
    session.commit()
    api.create_alert(message="checkout down", priority="P1", entity="checkout", alias="a")
    api.create_alert(message="payments down", priority="P1", entity="payments", alias="b")
    api.create_alert(
        message="both", priority="P1", tags=["component:checkout", "component:payments"], alias="c"
    )
    api.create_alert(message="payments again", priority="P1", entity="payments", alias="d")

    first, second = _incidents(session, api)
    rows = session.execute(
        select(
            IncidentComponent.incident_id,
            IncidentComponent.component_id,
            IncidentComponent.collecting,
            IncidentComponent.position,
        ).order_by(IncidentComponent.incident_id, IncidentComponent.position)
    ).all()
    # the alert on both joins the first incident, which gains payments without collecting it:
    # the second incident still collects for payments, and alerts on it still join there
    assert [tuple(r) for r in rows if r.incident_id in (first.id, second.id)] == [
        (first.id, checkout.id, True, 0),
        (first.id, payments.id, False, 1),
        (second.id, payments.id, True, 0),
    ]
    assert len(describe.alert_ids_of(session, first)) == 2
    assert len(describe.alert_ids_of(session, second)) == 2


def test_alert_without_a_known_component_lands_on_the_fallback(api: Api, session: Session) -> None:
    inst = _link(session, api)
    api.create_alert(message="mystery", priority="P1", entity="host-17")
    [incident] = _incidents(session, api)
    fallback = session.scalars(
        select(Component).where(
            Component.workspace_id == api.workspace.id, Component.is_fallback.is_(True)
        )
    ).one()
    [message] = _incident_messages(session, inst)
    assert message.payload["affectedComponents"] == [fallback.public_id]
    component_pushes = session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.kind == "component", OutboxMessage.entity_id == fallback.public_id
        )
    ).all()
    assert len(component_pushes) == 1
    assert incident.status is IncidentStatus.OPEN


def test_closing_the_last_alert_resolves_and_a_new_alert_opens_a_new_incident(
    api: Api, session: Session
) -> None:
    make_component(session, api.workspace, "checkout")
    session.commit()
    a = api.create_alert(message="one", priority="P1", entity="checkout", alias="one")
    b = api.create_alert(message="two", priority="P2", entity="checkout", alias="two")
    assert api.post(f"/v1/alerts/{a['id']}/close", json={}).status_code == 202
    api.process()
    assert _incidents(session, api)[0].status is IncidentStatus.OPEN
    assert api.post(f"/v1/alerts/{b['id']}/close", json={}).status_code == 202
    api.process()
    [incident] = _incidents(session, api)
    assert incident.status is IncidentStatus.RESOLVED
    assert incident.resolved_at is not None

    api.create_alert(message="again", priority="P1", entity="checkout", alias="three")
    assert [i.status for i in _incidents(session, api)] == [
        IncidentStatus.RESOLVED,
        IncidentStatus.OPEN,
    ]


def test_p4_and_p5_never_open_an_incident(api: Api, session: Session) -> None:
    api.create_alert(message="meh", priority="P4")
    api.create_alert(message="meh", priority="P5", alias="x")
    assert _incidents(session, api) == []


def test_p3_opens_after_the_count_threshold(api: Api, session: Session) -> None:
    for _ in range(2):
        api.create_alert(message="flappy", priority="P3", alias="flap")
    assert _incidents(session, api) == []
    api.create_alert(message="flappy", priority="P3", alias="flap")
    [incident] = _incidents(session, api)
    assert incident.severity == "P3"


def test_p3_left_unacknowledged_is_promoted_by_the_tick(
    api: Api, session: Session, session_factory: Any
) -> None:
    api.create_alert(message="disk 85%", priority="P3", alias="disk")
    acked = api.create_alert(message="disk 86%", priority="P3", alias="disk2")
    assert api.post(f"/v1/alerts/{acked['id']}/acknowledge", json={}).status_code == 202
    api.process()
    assert _incidents(session, api) == []
    assert len(session.scalars(select(PromotionCandidate)).all()) == 1

    assert promotion.promote_due(session_factory) == 0
    later = utcnow() + timedelta(minutes=16)
    assert promotion.promote_due(session_factory, now=later) == 1
    [incident] = _incidents(session, api)
    assert len(session.scalars(select(IncidentAlert)).all()) == 1
    assert session.scalars(select(PromotionCandidate)).all() == []
    assert incident.severity == "P3"


def test_a_batch_writes_its_waiting_alerts_candidates_together_when_it_ends(
    api: Api, session: Session
) -> None:
    """Repeats of waiting alerts set their candidates again; the batch writes the final set in
    two statements, and a candidate whose alert the batch deleted is not written."""
    bodies = [
        {"message": "disk 85%", "alias": "disk", "priority": "P3"},
        {"message": "disk 86%", "alias": "disk", "priority": "P3"},
        {"message": "cpu 90%", "alias": "cpu", "priority": "P3"},
        {"message": "gone soon", "alias": "gone", "priority": "P3"},
        {"message": "cpu 91%", "alias": "cpu", "priority": "P3"},
    ]
    for body in bodies:
        assert api.post("/v1/alerts", json=body).status_code == 202
    deleted = api.delete("/v1/alerts/gone", query_string={"identifierType": "alias"})
    assert deleted.status_code == 202, deleted.get_json()
    with api.statements_on("promotion_candidates") as writes:
        assert api.process() == len(bodies) + 1  # one batch

    session.expire_all()
    assert len(writes) == 1, writes  # the upsert of both; "gone" was never written
    alerts = {a.alias: a for a in session.scalars(select(Alert))}
    assert set(alerts) == {"disk", "cpu"}
    assert all(a.count == 2 for a in alerts.values())
    candidates = {c.alert_id: c for c in session.scalars(select(PromotionCandidate))}
    assert set(candidates) == {alerts["disk"].id, alerts["cpu"].id}
    assert _incidents(session, api) == []


def test_one_listener_keeps_each_batchs_state_apart(api: Api, session: Session) -> None:
    """Processors in several threads may share the worker's listener: another batch beginning
    and ending meanwhile leaves this one's candidate to be written when this one ends."""
    api.create_alert(message="disk 85%", priority="P3", alias="disk")
    session.execute(delete(PromotionCandidate))
    session.commit()
    listener = IncidentsListener()
    with api.session_factory() as mine, mine.begin():
        alert = mine.scalars(select(Alert)).one()
        listener.prepare(mine, [alert])
        listener(mine, alert, AlertEvent.DEDUPLICATED, Budget())
        with api.session_factory() as other, other.begin():
            listener.prepare(other, [])
            listener.finish(other)
        listener.finish(mine)
    session.expire_all()
    assert [c.alert_id for c in session.scalars(select(PromotionCandidate))] == [alert.id]


def test_incidents_are_sent_only_to_sites_linking_the_workspace(
    api: Api, other_api: Api, session: Session
) -> None:
    mine = _link(session, api)
    theirs = _link(session, other_api)
    api.create_alert(message="down", priority="P1")
    assert len(_incident_messages(session, mine)) == 1
    assert _incident_messages(session, theirs) == []


def test_a_batch_publishes_each_incident_it_changes_once_in_its_final_state(
    api: Api, session: Session
) -> None:
    make_component(session, api.workspace, "checkout")
    inst = _link(session, api)
    messages = [f"Checkout 5xx on node {n}" for n in range(5)]
    for n, message in enumerate(messages):
        body = {"message": message, "alias": f"node-{n}", "priority": "P1"}
        response = api.post("/v1/alerts", json={**body, "tags": ["component:checkout"]})
        assert response.status_code == 202
    with api.statements_on("outbox_messages") as outbox_writes:
        assert api.process() == 5  # one batch: every request of one workspace

    [incident] = _incidents(session, api)
    assert len(outbox_writes) == 1, outbox_writes  # the five changes, published once
    [message] = _incident_messages(session, inst)
    assert message.payload["updateSequenceNumber"] == incident.update_sequence_number
    assert all(m in message.payload["description"] for m in messages)


def test_a_batch_writes_the_counts_it_adds_in_one_statement_before_it_publishes(
    api: Api, session: Session
) -> None:
    """Repeats are counted in memory and written in one statement for the batch, before the
    incident's description (which reads the counts from the database) is built."""
    inst = _link(session, api)
    api.create_alert(message="Checkout 5xx", alias="checkout", priority="P1")
    api.create_alert(message="Cart 5xx", alias="cart", priority="P1")
    for n in range(6):
        alias = ("checkout", "cart")[n % 2]
        body = {"message": f"{alias} 5xx again", "alias": alias, "priority": "P1"}
        assert api.post("/v1/alerts", json=body).status_code == 202
    # a new alert joining the incident: the batch publishes it, its description built anew
    joins = {"message": "Payments 5xx", "alias": "payments", "priority": "P1"}
    assert api.post("/v1/alerts", json=joins).status_code == 202
    with api.statements_on("UPDATE alerts") as counts:
        assert api.process() == 7  # one batch

    assert len(counts) == 1, counts
    session.expire_all()
    alerts = {a.alias: a for a in session.scalars(select(Alert))}
    assert {a: alerts[a].count for a in ("checkout", "cart", "payments")} == {
        "checkout": 4,
        "cart": 4,
        "payments": 1,
    }
    assert all(alerts[a].last_occurred_at > alerts[a].created_at for a in ("checkout", "cart"))
    [incident] = _incidents(session, api)
    newest = _incident_messages(session, inst)[-1]
    assert newest.payload["updateSequenceNumber"] == incident.update_sequence_number
    assert "**Alerts:** 3 (9 occurrences)" in newest.payload["description"]

    # counted, then closed, in one batch: both changes are written
    body = {"message": "cart 5xx again", "alias": "cart", "priority": "P1"}
    assert api.post("/v1/alerts", json=body).status_code == 202
    closing = api.post("/v1/alerts/cart/close", query_string={"identifierType": "alias"})
    assert closing.status_code == 202
    assert api.process() == 2
    session.expire_all()
    cart = session.scalars(select(Alert).where(Alert.alias == "cart")).one()
    assert (cart.count, cart.status) == (5, AlertStatus.CLOSED)
    assert cart.updated_at == cart.closed_at >= cart.last_occurred_at
