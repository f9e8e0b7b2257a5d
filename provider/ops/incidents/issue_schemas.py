"""Bodies of the two-way link with Jira issues: the workspace's setting (``/v1``) and the issue
webhooks Jira sends (only the fields read; Jira's many others are ignored)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from provider.ops.incidents.models import IssueSyncSettings
from provider.schema.fields import RequestModel
from provider.schema.fields import ResponseModel
from provider.schema.fields import Text

MAX_TRANSITION = 255
MAX_KEY = 255


class IssueTransitions(RequestModel):
    """The Jira transition (or the status it leads to) per incident event; none: comment only."""

    opened: Annotated[str, Text(MAX_TRANSITION)] | None = None
    severity: Annotated[str, Text(MAX_TRANSITION)] | None = None
    resolved: Annotated[str, Text(MAX_TRANSITION)] | None = Field(
        default=None, description="E.g. `Done`."
    )


class IssueSyncUpdate(RequestModel):
    comment: bool = Field(
        default=True, description="Comment on linked issues when the incident changes."
    )
    transitions: IssueTransitions = Field(default_factory=IssueTransitions)
    resolve_on_issue_done: bool = Field(
        default=False, description="A linked issue resolved in Jira resolves the incident."
    )


class IssueSync(ResponseModel):
    comment: bool
    transitions: dict[str, str]
    resolve_on_issue_done: bool

    @classmethod
    def of(cls, row: IssueSyncSettings) -> IssueSync:
        return cls(
            comment=row.comment,
            transitions={k: str(v) for k, v in (row.transitions or {}).items() if v},
            resolve_on_issue_done=row.resolve_on_issue_done,
        )


# ── Jira's issue webhooks ──────────────────────────────────────────────────────────────────────


class StatusCategory(RequestModel):
    key: Annotated[str, Text(100)] = ""


class IssueStatus(RequestModel):
    name: Annotated[str, Text(255)] = ""
    status_category: StatusCategory = Field(default_factory=StatusCategory)


class IssueFields(RequestModel):
    status: IssueStatus | None = None
    summary: Annotated[str, Text(1000, truncate=True)] = ""


class WebhookIssue(RequestModel):
    key: Annotated[str, Text(MAX_KEY, nonempty=True)]
    fields: IssueFields = Field(default_factory=IssueFields)


class ChangeItem(RequestModel):
    field: Annotated[str, Text(255)] = ""
    from_string: Annotated[str, Text(255, truncate=True)] | None = None
    to_string: Annotated[str, Text(255, truncate=True)] | None = None


class Changelog(RequestModel):
    items: Annotated[list[ChangeItem], Field(max_length=200)] = Field(default_factory=list)


class IssueWebhook(RequestModel):
    webhook_event: Annotated[str, Text(100, nonempty=True)]
    issue: WebhookIssue
    changelog: Changelog | None = None
