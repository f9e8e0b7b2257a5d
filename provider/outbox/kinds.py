"""What the outbox carries: the one list of message kinds and operations.

The domain enqueues with these (``provider.ops.sync``), the handlers dispatch on them
(``provider.outbox.handlers``, ``provider.outbox.webhooks``); rows store their values.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Kind(enum.StrEnum):
    LINKED_WORKSPACE = "linked_workspace"
    COMPONENT = "component"
    INCIDENT = "incident"
    REVIEW = "review"
    WEBHOOK = "webhook"
    ISSUE = "jira_issue"  # a comment on, and perhaps a transition of, one Jira issue


class Operation(enum.StrEnum):
    SUBMIT = "submit"
    DELETE = "delete"
    SEND = "send"


@dataclass(frozen=True, slots=True)
class Delivered:
    """The final word on one message: Jira took it (``ok``), or refused it for good."""

    installation_id: int | None
    kind: str
    entity_id: str
    ok: bool
    message: str = ""
