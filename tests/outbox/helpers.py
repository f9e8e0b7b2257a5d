"""Builders and a fake Jira client at the worker's client seam."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.connect.http import JiraHttpError
from provider.connect.models import Installation
from provider.crypto import SecretBox
from provider.jira.client import BulkResult
from provider.outbox.models import OutboxMessage
from provider.outbox.queue import enqueue
from provider.times import utcnow
from tests.conftest import TEST_SECRET_KEY

_seq = itertools.count(1)


def make_installation(session: Session, **overrides: Any) -> Installation:
    n = next(_seq)
    secret = overrides.pop("shared_secret", f"shared-secret-{n}-0123456789abcdef")
    values: dict[str, Any] = {
        "client_key": f"jira:client-{n}-{utcnow().timestamp()}",
        "base_url": f"https://site{n}.atlassian.net",
        "shared_secret_encrypted": SecretBox(TEST_SECRET_KEY).encrypt(secret),
        "installed": True,
        "enabled": True,
    }
    values.update(overrides)
    inst = Installation(**values)
    session.add(inst)
    session.flush()
    return inst


def incident_payload(entity_id: str, usn: int, component: str = "svc-1") -> dict[str, Any]:
    return {
        "schemaVersion": "1.0",
        "id": entity_id,
        "updateSequenceNumber": usn,
        "affectedComponents": [component],
        "summary": f"Incident {entity_id} v{usn}",
        "description": "Something broke",
        "url": f"https://provider.example.com/incidents/{entity_id}",
        "createdDate": "2026-11-23T08:00:00.000Z",
        "lastUpdated": "2026-11-23T08:00:00.000Z",
        "status": "open",
        "severity": {"level": "P1"},
    }


def component_payload(entity_id: str, usn: int) -> dict[str, Any]:
    return {
        "schemaVersion": "1.0",
        "id": entity_id,
        "updateSequenceNumber": usn,
        "name": f"Service {entity_id} v{usn}",
        "description": "A service",
        "url": f"https://provider.example.com/components/{entity_id}",
        "avatarUrl": "https://provider.example.com/static/component.svg",
        "tier": "Tier 1",
        "componentType": "Service",
        "lastUpdated": "2026-11-23T08:00:00.000Z",
    }


def put(
    session: Session,
    inst: Installation | None,
    kind: str,
    entity_id: str,
    *,
    usn: int = 1,
    operation: str = "submit",
    group_key: str = "ws-1",
    payload: dict[str, Any] | None = None,
) -> OutboxMessage:
    if payload is None:
        payload = (
            incident_payload(entity_id, usn)
            if kind in ("incident", "review")
            else component_payload(entity_id, usn)
            if kind == "component"
            else {}
        )
    return enqueue(
        session,
        installation_id=inst.id if inst is not None else None,
        kind=kind,
        operation=operation,
        entity_id=entity_id,
        payload=payload,
        group_key=group_key,
    )


def messages(session: Session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Call:
    client_key: str
    method: str
    ids: list[str]
    properties: dict[str, str] | None = None
    payloads: list[dict[str, Any]] = field(default_factory=list)


class FakeJira:
    """Records calls per installation; ``script`` decides what each call does.

    ``script(call)`` may raise a :class:`JiraHttpError` (or network error) or return a
    :class:`BulkResult`/``None`` (``None``: everything accepted).
    """

    def __init__(self, script: Callable[[Call], BulkResult | None] | None = None) -> None:
        self.calls: list[Call] = []
        self.script = script or (lambda _c: None)
        self.max_entities: int | None = None

    def factory(self, installation: Installation) -> FakeJiraClient:
        return FakeJiraClient(self, installation.client_key)

    def bulk_calls(self) -> list[Call]:
        return [c for c in self.calls if c.method.startswith("submit")]


class FakeJiraClient:
    def __init__(self, jira: FakeJira, client_key: str) -> None:
        self.jira = jira
        self.client_key = client_key

    def _call(
        self,
        method: str,
        ids: list[str],
        properties: Mapping[str, str] | None = None,
        payloads: Sequence[Mapping[str, Any]] = (),
    ) -> BulkResult | None:
        call = Call(
            self.client_key,
            method,
            ids,
            dict(properties) if properties is not None else None,
            [dict(p) for p in payloads],
        )
        self.jira.calls.append(call)
        if self.jira.max_entities is not None and len(ids) > self.jira.max_entities:
            raise JiraHttpError(413, '[{"message": "Data is too large"}]')
        return self.jira.script(call)

    def _bulk(
        self, method: str, entities: Sequence[Mapping[str, Any]], properties: Mapping[str, str]
    ) -> BulkResult:
        result = self._call(method, [str(e["id"]) for e in entities], properties, entities)
        return result or BulkResult(accepted=[str(e["id"]) for e in entities])

    def submit_linked_workspaces(self, workspace_ids: Sequence[str]) -> list[str]:
        self._call("submit_linked_workspaces", list(workspace_ids))
        return list(workspace_ids)

    def delete_linked_workspaces(self, workspace_ids: Sequence[str]) -> None:
        self._call("delete_linked_workspaces", list(workspace_ids))

    def get_linked_workspaces(self, workspace_id: str | None = None) -> list[str]:
        return []

    def submit_incidents(
        self, incidents: Sequence[Mapping[str, Any]], *, properties: Mapping[str, str]
    ) -> BulkResult:
        return self._bulk("submit_incidents", incidents, properties)

    def submit_reviews(
        self, reviews: Sequence[Mapping[str, Any]], *, properties: Mapping[str, str]
    ) -> BulkResult:
        return self._bulk("submit_reviews", reviews, properties)

    def submit_components(
        self, components: Sequence[Mapping[str, Any]], *, properties: Mapping[str, str]
    ) -> BulkResult:
        return self._bulk("submit_components", components, properties)

    def delete_operations_by_properties(self, properties: Mapping[str, str]) -> None:
        self._call("delete_operations_by_properties", [], properties)

    def delete_components_by_properties(self, properties: Mapping[str, str]) -> None:
        self._call("delete_components_by_properties", [], properties)

    def get_incident(self, incident_id: str) -> dict[str, Any] | None:
        return None

    def delete_incident(self, incident_id: str) -> None:
        self._call("delete_incident", [incident_id])

    def get_review(self, review_id: str) -> dict[str, Any] | None:
        return None

    def delete_review(self, review_id: str) -> None:
        self._call("delete_review", [review_id])

    def get_component(self, component_id: str) -> dict[str, Any] | None:
        return None

    def delete_component(self, component_id: str) -> None:
        self._call("delete_component", [component_id])
