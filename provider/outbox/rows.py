"""Row selection shared by the steps of the outbox (claims, outcomes, pacing, the admin)."""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy import and_

from provider.outbox.models import MessageStatus
from provider.outbox.models import OutboxMessage

CHUNK = 500  # ids per IN (...) clause, well under every backend's parameter limit


def installation_is(installation_id: int | None) -> ColumnElement[bool]:
    if installation_id is None:
        return OutboxMessage.installation_id.is_(None)
    return OutboxMessage.installation_id == installation_id


def site_in(installation_id: int, status: MessageStatus) -> ColumnElement[bool]:
    """SQL: the message is the site's and in ``status``."""
    return and_(OutboxMessage.installation_id == installation_id, OutboxMessage.status == status)


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
