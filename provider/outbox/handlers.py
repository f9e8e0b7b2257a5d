"""What each message kind means on the wire: the ``HANDLERS`` registry, keyed by kind.

A handler gets one claimed batch (same installation, kind, operation and ``group_key``) and the
installation's :class:`~provider.jira.client.JiraClient`, makes the calls, and returns an
:class:`Outcome` per entity. It raises :class:`~provider.connect.http.JiraError` for a failure
of the whole request; the worker decides what that means (``retry.classify``).

Kinds and operations (what the domain enqueues):

========================  ===========  =========================================================
kind                      operation    payload / effect
========================  ===========  =========================================================
``linked_workspace``      ``submit``   ``{}``; entity id = workspace id; links it to the site
``linked_workspace``      ``delete``   ``{}``; unlinks it and deletes its operations and
                                       components data by the ``workspaceId`` property
``component``             ``submit``   a DevOps component (``jira.schemas.DevOpsComponent``)
``component``             ``delete``   ``{"id": …}``; deleted by id
``incident``              ``submit``   an incident (``jira.schemas.Incident``)
``incident``              ``delete``   ``{"id": …}``
``review``                ``submit``   a post-incident review (``jira.schemas.Review``)
``review``                ``delete``   ``{"id": …}``
========================  ===========  =========================================================

Submissions are tagged ``properties: {"workspaceId": group_key}``. Other kinds (e.g. ``webhook``
for outgoing integration actions, ``installation_id`` ``None``) register a :class:`KindSpec` with
``needs_jira=False``; their handler gets ``jira=None``. The worker's composition root
(``provider.worker.outbox_handlers``) adds those to ``HANDLERS``.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from provider.connect.http import JiraHttpError
from provider.jira.client import BulkResult
from provider.jira.client import JiraClient
from provider.jira.schemas import MAX_ENTITIES_PER_REQUEST
from provider.jira.schemas import MAX_WORKSPACE_IDS_PER_REQUEST
from provider.outbox.kinds import Kind
from provider.outbox.kinds import Operation

SUBMIT = Operation.SUBMIT
DELETE = Operation.DELETE

# Deletes by id are one request per entity; a smaller batch keeps a lease short.
MAX_DELETES_PER_BATCH = 50


@dataclass(frozen=True, slots=True)
class Envelope:
    """One claimed message as a handler sees it."""

    id: int
    entity_id: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Batch:
    installation_id: int | None
    kind: str
    operation: str
    group_key: str
    messages: Sequence[Envelope]

    def with_messages(self, messages: Sequence[Envelope]) -> Batch:
        return Batch(self.installation_id, self.kind, self.operation, self.group_key, messages)


@dataclass(slots=True)
class Outcome:
    """Per-entity results: entity ids Jira accepted and entity ids it rejected with messages."""

    accepted: set[str] = field(default_factory=set)
    failed: dict[str, str] = field(default_factory=dict)
    unknown_project_keys: list[str] = field(default_factory=list)


Handler = Callable[[Batch, JiraClient | None], Outcome]


@dataclass(frozen=True, slots=True)
class KindSpec:
    handler: Handler
    priority: int  # lower goes first: linked workspaces, components, incidents, reviews
    max_batch: Mapping[str, int] = field(default_factory=dict)  # per operation
    needs_jira: bool = True
    # Sent even when the site's points run low (provider.outbox.budget); the rest waits.
    urgent: bool = False

    def batch_limit(self, operation: str, default: int) -> int:
        return min(default, self.max_batch.get(operation, default))


def _require(jira: JiraClient | None) -> JiraClient:
    if jira is None:
        raise RuntimeError("this kind needs a Jira client")
    return jira


def _properties(batch: Batch) -> dict[str, str]:
    if not batch.group_key:
        raise ValueError("a submission needs a workspace (group_key) for properties.workspaceId")
    return {"workspaceId": batch.group_key}


def from_bulk(batch: Batch, result: BulkResult) -> Outcome:
    """Every entity Jira did not reject counts as delivered.

    An entity Jira skipped for an older ``updateSequenceNumber`` is neither accepted nor failed
    (Jira already holds something newer), so it is done too.
    """
    outcome = Outcome(unknown_project_keys=list(result.unknown_project_keys))
    for message in batch.messages:
        errors = result.failed.get(message.entity_id)
        if errors:
            outcome.failed[message.entity_id] = "; ".join(errors)[:2000]
        else:
            outcome.accepted.add(message.entity_id)
    return outcome


def _delete_each(batch: Batch, delete: Callable[[str], None]) -> Outcome:
    outcome = Outcome()
    for message in batch.messages:
        try:
            delete(message.entity_id)
        except JiraHttpError as e:
            if e.status == 404:  # already gone: the goal of a delete
                outcome.accepted.add(message.entity_id)
                continue
            if e.status == 400:
                outcome.failed[message.entity_id] = "; ".join(e.messages())[:2000] or "HTTP 400"
                continue
            raise
        outcome.accepted.add(message.entity_id)
    return outcome


def handle_linked_workspace(batch: Batch, jira: JiraClient | None) -> Outcome:
    client = _require(jira)
    ids = [m.entity_id for m in batch.messages]
    if batch.operation == SUBMIT:
        # Jira ignores ids that are already linked; none is ever reported as failed.
        client.submit_linked_workspaces(ids)
        return Outcome(accepted=set(ids))
    if batch.operation == DELETE:
        client.delete_linked_workspaces(ids)
        # Jira says it removes the workspace's data eventually; deleting by property as well
        # makes it certain and covers data sent before the workspace was linked.
        for workspace_id in ids:
            client.delete_operations_by_properties({"workspaceId": workspace_id})
            client.delete_components_by_properties({"workspaceId": workspace_id})
        return Outcome(accepted=set(ids))
    raise ValueError(f"unknown operation {batch.operation!r} for {batch.kind}")


def _entity_handler(submit: str, delete: str) -> Handler:
    """The handler of a kind Jira takes in bulk and deletes one by one.

    ``submit`` and ``delete`` name the :class:`JiraClient` methods, looked up on the client the
    batch is given.
    """

    def handle(batch: Batch, jira: JiraClient | None) -> Outcome:
        client = _require(jira)
        if batch.operation == SUBMIT:
            payloads = [m.payload for m in batch.messages]
            bulk = getattr(client, submit)(payloads, properties=_properties(batch))
            return from_bulk(batch, bulk)
        if batch.operation == DELETE:
            return _delete_each(batch, getattr(client, delete))
        raise ValueError(f"unknown operation {batch.operation!r} for {batch.kind}")

    return handle


handle_component = _entity_handler("submit_components", "delete_component")
handle_incident = _entity_handler("submit_incidents", "delete_incident")
handle_review = _entity_handler("submit_reviews", "delete_review")


_BULK_LIMITS: dict[str, int] = {SUBMIT: MAX_ENTITIES_PER_REQUEST, DELETE: MAX_DELETES_PER_BATCH}

HANDLERS: dict[str, KindSpec] = {
    Kind.LINKED_WORKSPACE: KindSpec(
        handle_linked_workspace,
        priority=0,
        max_batch={SUBMIT: MAX_WORKSPACE_IDS_PER_REQUEST, DELETE: 20},
        urgent=True,
    ),
    Kind.COMPONENT: KindSpec(handle_component, priority=1, max_batch=_BULK_LIMITS),
    Kind.INCIDENT: KindSpec(handle_incident, priority=2, max_batch=_BULK_LIMITS, urgent=True),
    Kind.REVIEW: KindSpec(handle_review, priority=3, max_batch=_BULK_LIMITS),
}
