"""Re-install backfill and resync send incidents, then reviews, after components."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.ops.sync import service as sync
from provider.ops.workspaces import linking
from provider.outbox.models import OutboxMessage
from tests.ops.conftest import Api
from tests.ops.contract import contract_errors
from tests.ops.incident_factories import make_installation


def test_backfill_order_and_content(api: Api, session: Session) -> None:
    assert [label for label, _ in sync.BACKFILL_STEPS][-3:] == [
        "components",
        "incidents",
        "reviews",
    ]
    api.create_alert(message="down", priority="P1")
    incident = api.get("/v1/incidents").get_json()["values"][0]
    api.post("/v1/reviews", json={"incidentIds": [incident["id"]]})
    inst = make_installation(session)
    linking.link_workspace(session, inst, api_key=api.key)
    session.commit()
    # Linking pushes open incidents; a resync (or re-install) pushes everything again.
    session.execute(delete(OutboxMessage))
    count = sync.backfill(session, inst)
    kinds = [
        m.kind
        for m in session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.installation_id == inst.id)
            .order_by(OutboxMessage.id)
        )
    ]
    assert count == len(kinds)
    assert kinds.index("incident") > max(i for i, k in enumerate(kinds) if k == "component")
    assert kinds[-1] == "review"
    for m in session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "incident")):
        assert contract_errors("incident.json", m.payload) == []
