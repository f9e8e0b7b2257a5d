from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.errors import BadRequest
from provider.errors import Conflict
from provider.errors import Forbidden
from provider.errors import NotFound
from provider.ops.workspaces import linking
from provider.ops.workspaces.models import WorkspaceLink
from tests.ops.incident_factories import make_component
from tests.ops.incident_factories import make_installation
from tests.ops.incident_factories import make_workspace
from tests.ops.incident_factories import outbox


def _links(session: Session) -> list[tuple[int, int]]:
    return [
        (link.installation_id, link.workspace_id)
        for link in session.scalars(select(WorkspaceLink).order_by(WorkspaceLink.id))
    ]


def test_link_with_link_code_links_and_enqueues_workspace_then_components(session: Session) -> None:
    inst = make_installation(session)
    made = make_workspace(session)
    c1 = make_component(session, made.workspace, "checkout")
    c2 = make_component(session, made.workspace, "search")

    ws = linking.link_workspace(session, inst, link_code=made.link_code)

    assert ws.id == made.workspace.id
    assert _links(session) == [(inst.id, ws.id)]
    messages = outbox(session, inst)
    assert [(m.kind, m.operation, m.entity_id) for m in messages] == [
        ("linked_workspace", "submit", ws.public_id),
        ("component", "submit", c1.public_id),
        ("component", "submit", c2.public_id),
    ]
    assert all(m.group_key == ws.public_id for m in messages)
    assert messages[1].payload["updateSequenceNumber"] > 0


def test_link_with_workspace_key_works_too(session: Session) -> None:
    inst = make_installation(session)
    made = make_workspace(session)
    ws = linking.link_workspace(session, inst, api_key=made.api_key)
    assert ws.id == made.workspace.id


def test_link_twice_keeps_one_link(session: Session) -> None:
    inst = make_installation(session)
    made = make_workspace(session)
    linking.link_workspace(session, inst, link_code=made.link_code)
    linking.link_workspace(session, inst, link_code=made.link_code)
    assert len(_links(session)) == 1


@pytest.mark.parametrize(
    "proof",
    [
        {"link_code": "link_wrong"},
        {"api_key": "ws_wrong"},
        {"link_code": ""},
    ],
)
def test_link_with_wrong_proof_fails_and_changes_nothing(
    session: Session, proof: dict[str, str]
) -> None:
    inst = make_installation(session)
    make_workspace(session)
    with pytest.raises((Forbidden, BadRequest)):
        linking.link_workspace(session, inst, **proof)
    assert _links(session) == []
    assert outbox(session) == []


def test_link_code_of_one_workspace_never_links_another(session: Session) -> None:
    inst = make_installation(session)
    a = make_workspace(session, "A")
    make_workspace(session, "B")
    ws = linking.link_workspace(session, inst, link_code=a.link_code)
    assert ws.id == a.workspace.id
    assert _links(session) == [(inst.id, a.workspace.id)]


def test_link_needs_exactly_one_proof(session: Session) -> None:
    inst = make_installation(session)
    made = make_workspace(session)
    with pytest.raises(BadRequest):
        linking.link_workspace(session, inst, link_code=made.link_code, api_key=made.api_key)
    with pytest.raises(BadRequest):
        linking.link_workspace(session, inst)


def test_link_to_uninstalled_site_is_refused(session: Session) -> None:
    inst = make_installation(session, installed=False)
    made = make_workspace(session)
    with pytest.raises(Conflict):
        linking.link_workspace(session, inst, link_code=made.link_code)
    assert _links(session) == []


def test_unlink_deletes_link_and_enqueues_deletes_replacing_pending_pushes(
    session: Session,
) -> None:
    inst = make_installation(session)
    other = make_installation(session)
    made = make_workspace(session)
    make_component(session, made.workspace)
    linking.link_workspace(session, inst, link_code=made.link_code)
    linking.link_workspace(session, other, link_code=made.link_code)

    linking.unlink_workspace(session, inst, made.workspace.public_id)

    assert _links(session) == [(other.id, made.workspace.id)]
    assert [(m.kind, m.operation, m.payload) for m in outbox(session, inst)] == [
        ("linked_workspace", "delete", {"workspaceId": made.workspace.public_id}),
    ]
    # The other site keeps its pushes.
    assert [m.kind for m in outbox(session, other)] == ["linked_workspace", "component"]


def test_unlink_of_workspace_linked_elsewhere_only_is_not_found(session: Session) -> None:
    inst = make_installation(session)
    attacker = make_installation(session)
    made = make_workspace(session)
    linking.link_workspace(session, inst, link_code=made.link_code)
    with pytest.raises(NotFound):
        linking.unlink_workspace(session, attacker, made.workspace.public_id)
    with pytest.raises(NotFound):
        linking.unlink_workspace(session, attacker, "no-such-workspace")
    assert _links(session) == [(inst.id, made.workspace.id)]
