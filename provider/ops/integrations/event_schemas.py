"""What the event endpoint and its dry run take and answer.

Both take any JSON value, not only an object: a monitoring tool's payload is whatever it sends,
and filters and templates reach a non-object as ``_payload``.
"""

from __future__ import annotations

from typing import Any
from typing import Literal

from pydantic import ConfigDict
from pydantic import Field
from pydantic import RootModel

from provider.ops.integrations import models
from provider.ops.integrations.engine import Decision
from provider.ops.lang.filter_schemas import ConditionOutput
from provider.ops.lang.filters import MatchType
from provider.schema.fields import ResponseModel


class DryRunBody(RootModel[Any]):
    """`{"payload": …, "headers": {…}}`, or the sample payload itself (any JSON value)."""

    model_config = ConfigDict(
        json_schema_extra={
            "properties": {
                "payload": {"description": "The sample payload."},
                "headers": {"type": "object", "description": "The headers it would come with."},
            }
        }
    )

    @property
    def payload(self) -> Any:
        if isinstance(self.root, dict):
            return self.root.get("payload", self.root)
        return self.root

    @property
    def headers(self) -> dict[str, Any] | None:
        headers = self.root.get("headers") if isinstance(self.root, dict) else None
        return headers if isinstance(headers, dict) else None


class ActionRef(ResponseModel):
    id: str
    name: str
    type: str


class ConditionOutcome(ConditionOutput):
    actual: Any = Field(description="The value the condition saw (shortened when long).")
    result: bool
    reason: str


class FilterOutcome(ResponseModel):
    matched: bool
    condition_match_type: MatchType
    reason: str
    conditions: list[ConditionOutcome] = Field(description="The conditions consulted, in order.")


class EvaluatedAction(ResponseModel):
    id: str
    name: str
    type: str
    skipped: str | None = Field(description="Why the action was not evaluated (disabled).")
    filter: FilterOutcome | None


class RenderedResponder(ResponseModel):
    type: str
    id: str


class RenderedAlert(ResponseModel):
    """The alert fields the matched action renders (nothing is created)."""

    message: str
    alias: str
    description: str
    source: str
    entity: str
    user: str
    note: str
    priority: str
    tags: list[str]
    actions: list[str]
    details: dict[str, str]
    responders: list[RenderedResponder]
    template_errors: list[str]
    truncated_fields: list[str]


class DryRun(ResponseModel):
    """Which action a sample payload triggers, and why."""

    integration_id: str
    matched: bool
    action: ActionRef | None
    status: str
    evaluated: list[EvaluatedAction] = Field(description="The actions consulted, in order.")
    rendered: RenderedAlert | None

    @classmethod
    def of(cls, integration: models.Integration, decision: Decision) -> DryRun:
        return cls.model_validate({"integrationId": integration.public_id, **decision.to_json()})


class EventPayload(RootModel[Any]):
    """Any JSON value: an object's fields are what filters and templates see, anything else is
    `_payload`. Form-encoded bodies (e-mail gateways) are read as fields."""


class EventAccepted(ResponseModel):
    result: Literal["Request will be processed"]
    request_id: str = Field(description="Poll `GET /v1/alerts/requests/{requestId}`.")
    took: float = Field(ge=0, description="Seconds.")
