"""Linking workspaces to Jira sites, only with proof of ownership, and unlinking them.

A workspace id alone never links anything: the caller must hold the workspace's link code or its
key. Linking pushes the workspace, its components and its open incidents to that site; unlinking
removes them there (by the ``workspaceId`` property every submission carries).
"""

from __future__ import annotations

import logging

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from provider.connect.models import Installation
from provider.crypto import hash_key
from provider.errors import BadRequest
from provider.errors import Conflict
from provider.errors import Forbidden
from provider.errors import NotFound
from provider.ops.sync import service as sync
from provider.ops.workspaces.models import Workspace
from provider.ops.workspaces.models import WorkspaceLink
from provider.outbox.models import MessageStatus
from provider.outbox.models import OutboxMessage

logger = logging.getLogger(__name__)


def find_workspace_by_proof(
    session: Session, *, link_code: str | None = None, api_key: str | None = None
) -> Workspace | None:
    """The workspace whose link code or key this is, if any."""
    if link_code:
        return session.scalars(
            select(Workspace).where(Workspace.link_code_hash == hash_key(link_code))
        ).first()
    if api_key:
        return session.scalars(
            select(Workspace).where(Workspace.api_key_hash == hash_key(api_key))
        ).first()
    return None


def is_linked(session: Session, installation: Installation, workspace_id: int) -> bool:
    return (
        session.scalars(
            select(WorkspaceLink.id).where(
                WorkspaceLink.installation_id == installation.id,
                WorkspaceLink.workspace_id == workspace_id,
            )
        ).first()
        is not None
    )


def link_workspace(
    session: Session,
    installation: Installation,
    *,
    link_code: str | None = None,
    api_key: str | None = None,
) -> Workspace:
    """Link the workspace proven by ``link_code`` or ``api_key`` to ``installation``.

    Linking an already linked workspace is harmless and pushes its data again.

    :raises BadRequest: when neither or both proofs are given.
    :raises Forbidden: when the proof matches no workspace (nothing is changed).
    :raises Conflict: when the installation is uninstalled.
    """
    if bool(link_code) == bool(api_key):
        raise BadRequest(
            "Give either a link code or a workspace key to prove ownership of the workspace.",
            code="proof_required",
        )
    if not installation.installed:
        raise Conflict("The app is not installed on this Jira site.", code="not_installed")
    workspace = find_workspace_by_proof(session, link_code=link_code, api_key=api_key)
    if workspace is None:
        raise Forbidden(
            "The link code or workspace key is not valid.", code="invalid_workspace_proof"
        )
    if not is_linked(session, installation, workspace.id):
        session.add(WorkspaceLink(installation_id=installation.id, workspace_id=workspace.id))
        session.flush()
    sync.push_linked_workspace(session, installation, workspace)
    logger.info(
        "workspace linked workspace=%s client_key=%s", workspace.public_id, installation.client_key
    )
    return workspace


def unlink_workspace(
    session: Session, installation: Installation, workspace_public_id: str
) -> Workspace:
    """Unlink a workspace from ``installation`` and remove its data from that site.

    :raises NotFound: when the workspace is not linked to this installation (whether or not it
        exists elsewhere, so ids of other sites' workspaces are not revealed).
    """
    workspace = session.scalars(
        select(Workspace)
        .join(WorkspaceLink, WorkspaceLink.workspace_id == Workspace.id)
        .where(
            WorkspaceLink.installation_id == installation.id,
            Workspace.public_id == workspace_public_id,
        )
    ).first()
    if workspace is None:
        raise NotFound("No such workspace is linked to this Jira site.")
    session.execute(
        delete(WorkspaceLink).where(
            WorkspaceLink.installation_id == installation.id,
            WorkspaceLink.workspace_id == workspace.id,
        )
    )
    # Pushes still waiting for this site would re-create what the delete removes.
    session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.installation_id == installation.id,
            OutboxMessage.group_key == workspace.public_id,
            OutboxMessage.status == MessageStatus.PENDING,
        )
    )
    # The delivery handler unlinks the workspace and deletes its incidents, reviews and components
    # in that site by the ``workspaceId`` property every submission carries.
    sync.hide_workspace(session, installation, workspace)
    logger.info(
        "workspace unlinked workspace=%s client_key=%s",
        workspace.public_id,
        installation.client_key,
    )
    return workspace
