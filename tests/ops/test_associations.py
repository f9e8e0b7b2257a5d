"""Jira's component actions record associations, scoped to the calling installation."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.ops.components import associations
from provider.ops.components.models import ComponentAssociation
from provider.ops.workspaces import linking
from tests.conftest import TEST_BASE_URL
from tests.ops.incident_factories import make_component
from tests.ops.incident_factories import make_installation
from tests.ops.incident_factories import make_workspace
from tests.ops.jira_signing import jira_call

CLOUD = "496ad24e-0c63-4b50-a991-46ed81b3d6d6"


def _body(component_id: str, key: str = "associatedWith", **entity: str) -> dict[str, Any]:
    return {
        "entity": entity or {"ari": f"ari:x:{component_id}", "id": component_id},
        key: {
            "ati": "ati:cloud:jira:project",
            "ari": f"ari:cloud:jira:{CLOUD}:project/10001",
            "cloudId": CLOUD,
            "id": "10001",
        },
        "user": {"id": "acc-1"},
    }


@pytest.fixture
def linked(session: Session):  # type: ignore[no-untyped-def]
    inst = make_installation(session)
    made = make_workspace(session)
    comp = make_component(session, made.workspace)
    linking.link_workspace(session, inst, link_code=made.link_code)
    session.commit()
    return inst, comp


def _rows(session: Session) -> list[tuple[int, int, str, str, str | None]]:
    return [
        (r.installation_id, r.component_id, r.entity_id, r.cloud_id, r.associated_by)
        for r in session.scalars(select(ComponentAssociation).order_by(ComponentAssociation.id))
    ]


def test_on_entity_associated_records_once_and_disassociated_removes(
    client: FlaskClient, session: Session, linked
) -> None:  # type: ignore[no-untyped-def]
    inst, comp = linked
    for spelling in ("associatedWith", "associateWith"):
        r = jira_call(
            client,
            inst,
            "PUT",
            "/components/on-entity-associated",
            json=_body(comp.public_id, spelling),
        )
        assert r.status_code == 200, r.get_json()
    assert _rows(session) == [(inst.id, comp.id, "10001", CLOUD, "acc-1")]

    r = jira_call(
        client,
        inst,
        "PUT",
        "/components/on-entity-disassociated",
        json=_body(comp.public_id, "disassociatedFrom"),
    )
    assert r.status_code == 200
    assert _rows(session) == []


def test_component_can_be_named_by_its_url(client: FlaskClient, session: Session, linked) -> None:  # type: ignore[no-untyped-def]
    inst, comp = linked
    body = _body(comp.public_id, url=f"{TEST_BASE_URL}/components/{comp.public_id}")
    r = jira_call(client, inst, "PUT", "/components/on-entity-associated", json=body)
    assert r.status_code == 200
    assert len(_rows(session)) == 1


def test_other_installation_cannot_associate_a_component_it_cannot_see(
    client: FlaskClient, session: Session, linked
) -> None:  # type: ignore[no-untyped-def]
    _, comp = linked
    attacker = make_installation(session)
    session.commit()
    for path in ("/components/on-entity-associated", "/components/associate"):
        r = jira_call(
            client, attacker, "PUT" if "on-" in path else "POST", path, json=_body(comp.public_id)
        )
        assert r.status_code == 404
        assert r.get_json()["errors"][0]["code"] == "component_not_found"
    assert _rows(session) == []


def test_associate_answers_the_component(client: FlaskClient, linked) -> None:  # type: ignore[no-untyped-def]
    inst, comp = linked
    r = jira_call(
        client,
        inst,
        "POST",
        "/components/associate?userId=acc-2",
        json=_body(comp.public_id, "associateWith"),
    )
    assert r.status_code == 200
    assert r.get_json()["id"] == comp.public_id


@pytest.mark.parametrize(
    "raw",
    [
        None,
        [],
        "x",
        {},
        {"entity": "x"},
        {"entity": {"id": "c"}},
        {"entity": {"id": "c"}, "associatedWith": []},
        {"entity": {"id": 5}, "associatedWith": {"id": "1"}},
        {"entity": {}, "associatedWith": {"ati": "a", "ari": "b", "cloudId": "c", "id": "1"}},
        {"entity": {"id": "c"}, "associatedWith": {"ati": "a", "cloudId": "c"}},
        {"entity": {"id": "c" * 300}, "associatedWith": {"id": "1"}},
        {"entity": {"id": "c"}, "associatedWith": {"ari": "x"}, "user": "u"},
    ],
)
def test_malformed_bodies_are_400_never_500(
    client: FlaskClient, session: Session, linked, raw: object
) -> None:  # type: ignore[no-untyped-def]
    inst, _ = linked
    r = jira_call(client, inst, "PUT", "/components/on-entity-associated", json=raw)
    assert r.status_code == 400, r.get_json()
    assert r.get_json()["errors"][0]["code"]
    assert _rows(session) == []


def test_unsigned_or_badly_signed_calls_are_401(client: FlaskClient, linked) -> None:  # type: ignore[no-untyped-def]
    inst, comp = linked
    r = client.put("/components/on-entity-associated", json=_body(comp.public_id))
    assert r.status_code == 401
    r = jira_call(
        client,
        inst,
        "PUT",
        "/components/on-entity-associated",
        json=_body(comp.public_id),
        secret="x" * 40,
    )
    assert r.status_code == 401


def test_jira_entity_fills_gaps_from_the_ari() -> None:
    entity = associations.jira_entity({"ari": f"ari:cloud:jira:{CLOUD}:project/10001"})
    assert entity == associations.JiraEntity(
        ati="ati:cloud:jira:project",
        ari=f"ari:cloud:jira:{CLOUD}:project/10001",
        cloud_id=CLOUD,
        id="10001",
    )
