"""Workspace bodies: what Jira's fetchWorkspaces sends and gets, and what the admin page sends."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from provider.ops.sync.links import Links
from provider.ops.workspaces.models import Workspace
from provider.schema.fields import Items
from provider.schema.fields import RequestModel
from provider.schema.fields import ResponseModel
from provider.schema.fields import Text

NAME_MAX = 255
ID_MAX = 255
LINK_CODE_MAX = 200
# Jira sends at most this many ids in one fetchWorkspaces call.
MAX_FETCHED = 1000


class FetchWorkspaces(RequestModel):
    """Jira asks which of these workspace ids the calling site may show."""

    ids: Annotated[list[Annotated[str, Text(ID_MAX, strip=False)]], Items(MAX_FETCHED)]


class WorkspaceCard(ResponseModel):
    id: str
    name: str
    url: str
    avatar_url: str

    @classmethod
    def of(cls, workspace: Workspace, links: Links) -> WorkspaceCard:
        return cls(
            id=workspace.public_id,
            name=workspace.name,
            url=f"{links.base_url}/workspaces/{workspace.public_id}",
            avatar_url=workspace.avatar_url or links.workspace_avatar,
        )


class Workspaces(ResponseModel):
    workspaces: list[WorkspaceCard]


class WorkspaceCreate(RequestModel):
    name: Annotated[str, Text(NAME_MAX, nonempty=True, printable=True)]


class LinkWorkspace(RequestModel):
    """Proof of ownership: a link code, and optionally the workspace it is meant for."""

    link_code: Annotated[str, Text(LINK_CODE_MAX, nonempty=True)]
    workspace_id: Annotated[str, Text(64)] | None = Field(default=None)
