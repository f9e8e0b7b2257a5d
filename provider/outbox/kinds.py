"""What the outbox carries: the one list of message kinds and operations.

The domain enqueues with these (``provider.ops.sync``), the handlers dispatch on them
(``provider.outbox.handlers``, ``provider.outbox.webhooks``); rows store their values.
"""

from __future__ import annotations

import enum


class Kind(enum.StrEnum):
    LINKED_WORKSPACE = "linked_workspace"
    COMPONENT = "component"
    INCIDENT = "incident"
    REVIEW = "review"
    WEBHOOK = "webhook"


class Operation(enum.StrEnum):
    SUBMIT = "submit"
    DELETE = "delete"
    SEND = "send"
