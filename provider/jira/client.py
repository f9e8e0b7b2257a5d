"""The app's calls to Jira's Operations and DevOps Components APIs.

:class:`JiraClient` is the seam the outbox worker depends on; :class:`HttpJiraClient` is the real
one, one method per endpoint of the two APIs. Submissions always carry the request-level
``properties`` (``workspaceId``, so unlinking can delete by property) and ``providerMetadata``.
Jira answers bulk submissions with 202 and a body that varies (reviews have no documented
``accepted…`` field), so responses are parsed leniently into a :class:`BulkResult`.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Protocol
from urllib.parse import quote

import requests

from provider import __version__
from provider.connect.http import HostClient
from provider.connect.http import JiraHttpError
from provider.jira.schemas import MAX_ENTITIES_PER_REQUEST
from provider.jira.schemas import MAX_WORKSPACE_IDS_PER_REQUEST

OPERATIONS = "/rest/operations/1.0"
COMPONENTS = "/rest/devopscomponents/1.0"
ISSUES = "/rest/api/3/issue"


@dataclass(slots=True)
class BulkResult:
    """What Jira said about each entity of a bulk submission.

    ``accepted`` is ``None`` when Jira's answer did not list accepted ids (then every entity
    not in ``failed`` counts as accepted: Jira validated the request and did not object).
    """

    accepted: list[str] | None = None
    failed: dict[str, list[str]] = field(default_factory=dict)
    unknown_project_keys: list[str] = field(default_factory=list)


class JiraClient(Protocol):
    def submit_linked_workspaces(self, workspace_ids: Sequence[str]) -> list[str]: ...
    def delete_linked_workspaces(self, workspace_ids: Sequence[str]) -> None: ...
    def get_linked_workspaces(self, workspace_id: str | None = None) -> list[str]: ...

    def submit_incidents(
        self, incidents: Sequence[Mapping[str, Any]], *, properties: Mapping[str, str]
    ) -> BulkResult: ...
    def submit_reviews(
        self, reviews: Sequence[Mapping[str, Any]], *, properties: Mapping[str, str]
    ) -> BulkResult: ...
    def delete_operations_by_properties(self, properties: Mapping[str, str]) -> None: ...
    def get_incident(self, incident_id: str) -> dict[str, Any] | None: ...
    def delete_incident(self, incident_id: str) -> None: ...
    def get_review(self, review_id: str) -> dict[str, Any] | None: ...
    def delete_review(self, review_id: str) -> None: ...

    def submit_components(
        self, components: Sequence[Mapping[str, Any]], *, properties: Mapping[str, str]
    ) -> BulkResult: ...
    def delete_components_by_properties(self, properties: Mapping[str, str]) -> None: ...
    def get_component(self, component_id: str) -> dict[str, Any] | None: ...
    def delete_component(self, component_id: str) -> None: ...

    def get_issue(self, issue_key: str) -> dict[str, Any] | None: ...
    def add_comment(self, issue_key: str, body: Mapping[str, Any]) -> None: ...
    def get_transitions(self, issue_key: str) -> list[dict[str, Any]]: ...
    def transition_issue(self, issue_key: str, transition_id: str) -> None: ...


class HttpJiraClient(HostClient):
    """:class:`JiraClient` over signed HTTP to one installation's site."""

    # ── linked workspaces ──────────────────────────────────────────────────────────────────────

    def submit_linked_workspaces(self, workspace_ids: Sequence[str]) -> list[str]:
        _check_count(workspace_ids, MAX_WORKSPACE_IDS_PER_REQUEST, "workspace ids")
        response = self.request(
            "POST",
            f"{OPERATIONS}/linkedWorkspaces/bulk",
            json={"workspaceIds": list(workspace_ids)},
        )
        body = _json(response)
        accepted = body.get("acceptedWorkspaceIds") if isinstance(body, dict) else None
        if isinstance(accepted, list):
            return [str(x) for x in accepted]
        return list(workspace_ids)

    def delete_linked_workspaces(self, workspace_ids: Sequence[str]) -> None:
        _check_count(workspace_ids, MAX_WORKSPACE_IDS_PER_REQUEST, "workspace ids")
        self.request(
            "DELETE",
            f"{OPERATIONS}/linkedWorkspaces/bulk",
            params={"workspaceIds": ",".join(workspace_ids)},
        )

    def get_linked_workspaces(self, workspace_id: str | None = None) -> list[str]:
        params = {"workspaceId": workspace_id} if workspace_id is not None else None
        try:
            response = self.request("GET", f"{OPERATIONS}/linkedWorkspaces", params=params)
        except JiraHttpError as e:
            if e.status == 404 and workspace_id is not None:
                return []
            raise
        body = _json(response)
        ids = body.get("workspaceIds") if isinstance(body, dict) else None
        return [str(x) for x in ids] if isinstance(ids, list) else []

    # ── operations: incidents and reviews ──────────────────────────────────────────────────────

    def submit_incidents(
        self, incidents: Sequence[Mapping[str, Any]], *, properties: Mapping[str, str]
    ) -> BulkResult:
        return self._submit_operations("incidents", incidents, properties)

    def submit_reviews(
        self, reviews: Sequence[Mapping[str, Any]], *, properties: Mapping[str, str]
    ) -> BulkResult:
        return self._submit_operations("reviews", reviews, properties)

    def _submit_operations(
        self, key: str, entities: Sequence[Mapping[str, Any]], properties: Mapping[str, str]
    ) -> BulkResult:
        # Incidents and reviews never share a request: the body is one of two shapes (anyOf).
        _check_count(entities, MAX_ENTITIES_PER_REQUEST, key)
        response = self.request(
            "POST", f"{OPERATIONS}/bulk", json=self._body(key, entities, properties)
        )
        # Jira documents only the ``…Incidents`` result fields, even for a review submission;
        # read ``…Reviews`` too in case it starts sending them.
        nouns = ("Incidents",) if key == "incidents" else ("Reviews", "Incidents")
        return parse_bulk_result(_json(response), *nouns)

    def delete_operations_by_properties(self, properties: Mapping[str, str]) -> None:
        _check_properties(properties)
        self.request("DELETE", f"{OPERATIONS}/bulkByProperties", params=properties)

    def get_incident(self, incident_id: str) -> dict[str, Any] | None:
        return self._get_or_none(f"{OPERATIONS}/incidents/{_segment(incident_id)}")

    def delete_incident(self, incident_id: str) -> None:
        self.request("DELETE", f"{OPERATIONS}/incidents/{_segment(incident_id)}")

    def get_review(self, review_id: str) -> dict[str, Any] | None:
        return self._get_or_none(f"{OPERATIONS}/post-incident-reviews/{_segment(review_id)}")

    def delete_review(self, review_id: str) -> None:
        self.request("DELETE", f"{OPERATIONS}/post-incident-reviews/{_segment(review_id)}")

    # ── DevOps components ──────────────────────────────────────────────────────────────────────

    def submit_components(
        self, components: Sequence[Mapping[str, Any]], *, properties: Mapping[str, str]
    ) -> BulkResult:
        # The body key is ``devopsComponents`` per the OpenAPI spec; the seed's ``components``
        # example is rejected by the spec.
        _check_count(components, MAX_ENTITIES_PER_REQUEST, "components")
        response = self.request(
            "POST",
            f"{COMPONENTS}/bulk",
            json=self._body("devopsComponents", components, properties),
        )
        return parse_bulk_result(_json(response), "Components")

    def delete_components_by_properties(self, properties: Mapping[str, str]) -> None:
        _check_properties(properties)
        self.request("DELETE", f"{COMPONENTS}/bulkByProperties", params=properties)

    def get_component(self, component_id: str) -> dict[str, Any] | None:
        return self._get_or_none(f"{COMPONENTS}/devopscomponents/{_segment(component_id)}")

    def delete_component(self, component_id: str) -> None:
        self.request("DELETE", f"{COMPONENTS}/devopscomponents/{_segment(component_id)}")

    # ── issues (Jira's platform REST API) ──────────────────────────────────────────────────────

    def get_issue(self, issue_key: str) -> dict[str, Any] | None:
        return self._get_or_none(f"{ISSUES}/{_segment(issue_key)}")

    def add_comment(self, issue_key: str, body: Mapping[str, Any]) -> None:
        """Comment with a body in Atlassian Document Format."""
        self.request("POST", f"{ISSUES}/{_segment(issue_key)}/comment", json={"body": dict(body)})

    def get_transitions(self, issue_key: str) -> list[dict[str, Any]]:
        response = self.request("GET", f"{ISSUES}/{_segment(issue_key)}/transitions")
        body = _json(response)
        found = body.get("transitions") if isinstance(body, dict) else None
        return [t for t in found if isinstance(t, dict)] if isinstance(found, list) else []

    def transition_issue(self, issue_key: str, transition_id: str) -> None:
        self.request(
            "POST",
            f"{ISSUES}/{_segment(issue_key)}/transitions",
            json={"transition": {"id": transition_id}},
        )

    # ── helpers ────────────────────────────────────────────────────────────────────────────────

    def _body(
        self, key: str, entities: Sequence[Mapping[str, Any]], properties: Mapping[str, str]
    ) -> dict[str, Any]:
        _check_properties(properties)
        return {
            key: [dict(e) for e in entities],
            "properties": dict(properties),
            "providerMetadata": {"product": f"{self.product} {__version__}"},
        }

    def _get_or_none(self, path: str) -> dict[str, Any] | None:
        try:
            response = self.request("GET", path)
        except JiraHttpError as e:
            if e.status == 404:
                return None
            raise
        body = _json(response)
        return body if isinstance(body, dict) else None


def parse_bulk_result(body: object, *nouns: str) -> BulkResult:
    """Read ``accepted<Noun>``/``failed<Noun>``/``unknownProjectKeys``, tolerating any shape."""
    result = BulkResult()
    if not isinstance(body, dict):
        return result
    for noun in nouns:
        accepted = body.get(f"accepted{noun}")
        if isinstance(accepted, list):
            ids = [str(x) for x in accepted if isinstance(x, str | int)]
            result.accepted = [*(result.accepted or []), *ids]
        failed = body.get(f"failed{noun}")
        if isinstance(failed, dict):
            for entity_id, errors in failed.items():
                result.failed[str(entity_id)] = _messages(errors)
    unknown = body.get("unknownProjectKeys")
    if isinstance(unknown, list):
        result.unknown_project_keys = [str(x) for x in unknown if isinstance(x, str)]
    return result


def _messages(errors: object) -> list[str]:
    if isinstance(errors, list):
        out = []
        for item in errors:
            if isinstance(item, dict):
                message = item.get("message")
                out.append(str(message) if message is not None else str(item))
            else:
                out.append(str(item))
        return out or ["rejected by Jira without a message"]
    if isinstance(errors, dict | str):
        return [str(errors.get("message", errors)) if isinstance(errors, dict) else errors]
    return ["rejected by Jira without a message"]


def _json(response: requests.Response) -> object:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _segment(entity_id: str) -> str:
    if not entity_id or len(entity_id) > 255:
        raise ValueError("an entity id is 1 to 255 characters")
    return quote(entity_id, safe="")


def _check_count(items: Sequence[Any], limit: int, what: str) -> None:
    if not 1 <= len(items) <= limit:
        raise ValueError(f"between 1 and {limit} {what} per request, got {len(items)}")


def _check_properties(properties: Mapping[str, str]) -> None:
    if not properties or len(properties) > 5:
        raise ValueError("between 1 and 5 properties")
    for key, value in properties.items():
        if ":" in key or key.startswith("_") or not isinstance(value, str) or len(value) > 255:
            raise ValueError(f"invalid property {key!r}")
