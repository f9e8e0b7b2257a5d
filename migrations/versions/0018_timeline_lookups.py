"""timeline lookups that stay flat: an alert's entries, and the newest entry that is news

Every time an alert of an incident fires again, the timeline finds that alert's latest entry and
whether anything but alerts firing again came after it (then the repeat gets a line of its own;
otherwise its line is updated). Both walked the incident's entries backwards, as many as the
incident has alerts: in a storm, thousands per alert change. An index of entries by alert finds
the first, and a partial index of the entries that are news (every kind but ``alert_repeated``)
the second.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEWS = sa.text("kind <> 'alert_repeated'")


def upgrade() -> None:
    op.create_index("ix_incident_events_alert", "incident_events", ["alert_id", "id"])
    op.create_index(
        "ix_incident_events_news",
        "incident_events",
        ["incident_id", "id"],
        sqlite_where=NEWS,
        postgresql_where=NEWS,
    )


def downgrade() -> None:
    op.drop_index("ix_incident_events_news", table_name="incident_events")
    op.drop_index("ix_incident_events_alert", table_name="incident_events")
