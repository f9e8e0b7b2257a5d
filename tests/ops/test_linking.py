from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from provider.connect.models import Installation
from provider.db import make_engine
from provider.db import make_session_factory
from provider.errors import BadRequest
from provider.errors import Conflict
from provider.errors import Forbidden
from provider.errors import NotFound
from provider.ops.components import service as components
from provider.ops.sync.links import bind_links
from provider.ops.workspaces import linking
from provider.ops.workspaces import service as workspaces
from provider.ops.workspaces.models import LinkCode
from provider.ops.workspaces.models import WorkspaceLink
from provider.times import utcnow
from tests.conftest import TEST_BASE_URL
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
    fallback = components.fallback_component(session, ws.id)
    assert [(m.kind, m.operation, m.entity_id) for m in messages] == [
        ("linked_workspace", "submit", ws.public_id),
        ("component", "submit", fallback.public_id),
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
    linking.link_workspace(session, other, api_key=made.api_key)

    linking.unlink_workspace(session, inst, made.workspace.public_id)

    assert _links(session) == [(other.id, made.workspace.id)]
    assert [(m.kind, m.operation, m.payload) for m in outbox(session, inst)] == [
        ("linked_workspace", "delete", {"workspaceId": made.workspace.public_id}),
    ]
    # The other site keeps its pushes (the link, the fallback component and the other one).
    assert [m.kind for m in outbox(session, other)] == [
        "linked_workspace",
        "component",
        "component",
    ]


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


# ── link codes are one-time, expiring, revocable credentials (outside review, finding 1) ───────


def _refused(session: Session, inst: Installation, code: str) -> None:
    before = _links(session)
    with pytest.raises(Forbidden):
        linking.link_workspace(session, inst, link_code=code)
    assert _links(session) == before


def test_a_used_link_code_links_no_other_site(session: Session) -> None:
    made = make_workspace(session)
    first, second = make_installation(session), make_installation(session)
    linking.link_workspace(session, first, link_code=made.link_code)
    _refused(session, second, made.link_code)
    assert _links(session) == [(first.id, made.workspace.id)]


def test_a_link_code_expires(session: Session) -> None:
    made = make_workspace(session)
    code = workspaces.issue_link_code(
        session, made.workspace, actor="test", lifetime=timedelta(minutes=1)
    )
    session.execute(
        update(LinkCode)
        .where(LinkCode.workspace_id == made.workspace.id)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    _refused(session, make_installation(session), code)


def test_a_new_link_code_ends_the_unused_old_one(session: Session) -> None:
    made = make_workspace(session)
    new = workspaces.issue_link_code(session, made.workspace, actor="test")
    _refused(session, make_installation(session), made.link_code)
    assert linking.link_workspace(session, make_installation(session), link_code=new)


def test_after_a_key_rotation_an_old_code_links_nothing(session: Session) -> None:
    """The review's attack: a site admin holding a code from before the rotation."""
    made = make_workspace(session)
    workspaces.rotate_api_key(session, made.workspace, actor="test")
    _refused(session, make_installation(session), made.link_code)
    with pytest.raises(Forbidden):
        linking.link_workspace(session, make_installation(session), api_key=made.api_key)


def test_a_rotation_can_revoke_the_sites_that_codes_linked(session: Session) -> None:
    made = make_workspace(session)
    by_code, by_key = make_installation(session), make_installation(session)
    linking.link_workspace(session, by_code, link_code=made.link_code)
    linking.link_workspace(session, by_key, api_key=made.api_key)
    workspaces.rotate_api_key(session, made.workspace, actor="test")

    assert linking.revoke_links_made_with_codes(session, made.workspace, actor="test") == 1

    assert _links(session) == [(by_key.id, made.workspace.id)]
    deletes = [(m.kind, m.operation) for m in outbox(session, by_code)]
    assert deletes == [("linked_workspace", "delete")]


def test_links_keys_and_codes_are_in_the_audit_log(session: Session) -> None:
    made = make_workspace(session)
    inst = make_installation(session)
    linking.link_workspace(session, inst, link_code=made.link_code, actor="site admin a")
    workspaces.rotate_api_key(session, made.workspace, actor="cli")
    linking.unlink_workspace(session, inst, made.workspace.public_id, actor="site admin b")
    session.flush()
    events = [
        (e.action, e.actor, e.client_key)
        for e in reversed(workspaces.audit_events(session, made.workspace.id))
    ]
    assert events == [
        ("workspace.created", "cli", None),
        ("link_code.issued", "cli", None),
        ("workspace.linked", "site admin a", inst.client_key),
        ("key.rotated", "cli", None),
        ("workspace.unlinked", "site admin b", inst.client_key),
    ]


def test_two_sites_racing_with_one_code_link_once(fresh_database_url: str) -> None:
    engine = make_engine(fresh_database_url)
    factory = bind_links(make_session_factory(engine), TEST_BASE_URL)
    with factory.begin() as session:
        made = make_workspace(session)
        sites = [make_installation(session).id for _ in range(8)]
        code = made.link_code

    def attempt(installation_id: int) -> bool:
        with factory() as session:
            installation = session.get_one(Installation, installation_id)
            try:
                linking.link_workspace(session, installation, link_code=code)
                session.commit()
            except Forbidden:
                return False
            return True

    try:
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(attempt, sites))
        with factory() as session:
            links = session.scalars(select(WorkspaceLink)).all()
    finally:
        engine.dispose()
    assert results.count(True) == 1
    assert len(links) == 1
