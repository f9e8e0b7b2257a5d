"""Linking workspaces to Jira sites, only with proof of ownership, and unlinking them.

A workspace id alone never links anything: the caller must hold a link code of the workspace
(one-time, expiring) or its key. Linking pushes the workspace, its components and its open
incidents to that site; unlinking removes them there (by the ``workspaceId`` property every
submission carries). Both are written to the workspace's audit log.
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
from provider.ops.workspaces import service as workspaces
from provider.ops.workspaces.models import Workspace
from provider.ops.workspaces.models import WorkspaceLink
from provider.outbox.models import MessageStatus
from provider.outbox.models import OutboxMessage

logger = logging.getLogger(__name__)


def find_workspace_by_key(session: Session, api_key: str) -> Workspace | None:
    """The workspace whose key this is, if any."""
    return session.scalars(
        select(Workspace).where(Workspace.api_key_hash == hash_key(api_key))
    ).first()


def workspace_of_link_code(session: Session, link_code: str) -> Workspace | None:
    """The workspace a still valid link code belongs to, if any (nothing is spent)."""
    code = workspaces.valid_link_code(session, link_code)
    return None if code is None else session.get(Workspace, code.workspace_id)


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
    actor: str = "cli",
) -> Workspace:
    """Link the workspace proven by ``link_code`` or ``api_key`` to ``installation``.

    A link code is spent by its first use. Using it again for the same site (a double click) is
    harmless and pushes the data again; for any other site it proves nothing.

    :raises BadRequest: when neither or both proofs are given.
    :raises Forbidden: when the proof matches no workspace, or a code is used, revoked or
        expired (nothing is changed).
    :raises Conflict: when the installation is uninstalled.
    """
    if bool(link_code) == bool(api_key):
        raise BadRequest(
            "Give either a link code or a workspace key to prove ownership of the workspace.",
            code="proof_required",
        )
    if not installation.installed:
        raise Conflict("The app is not installed on this Jira site.", code="not_installed")
    code_id: int | None = None
    if link_code:
        code = workspaces.valid_link_code(session, link_code)
        if code is None or not workspaces.spend_link_code(session, code, installation.id):
            spent = workspaces.used_link_code(session, link_code)
            if spent is None or spent.used_by_installation_id != installation.id:
                raise _invalid_proof()
            code = spent
        code_id = code.id
        workspace = session.get(Workspace, code.workspace_id)
    else:
        workspace = find_workspace_by_key(session, api_key or "")
    if workspace is None:
        raise _invalid_proof()
    how = "link code" if code_id is not None else "workspace key"
    _attach(session, installation, workspace, link_code_id=code_id, actor=actor, how=how)
    return workspace


def link_created_workspace(
    session: Session, installation: Installation, workspace: Workspace, *, actor: str
) -> None:
    """Link a workspace a site admin just created inside this site (its own proof)."""
    _attach(session, installation, workspace, link_code_id=None, actor=actor, how="creation")


def _attach(
    session: Session,
    installation: Installation,
    workspace: Workspace,
    *,
    link_code_id: int | None,
    actor: str,
    how: str,
) -> None:
    if not is_linked(session, installation, workspace.id):
        session.add(
            WorkspaceLink(
                installation_id=installation.id,
                workspace_id=workspace.id,
                link_code_id=link_code_id,
                linked_by=actor[:255],
            )
        )
        session.flush()
        workspaces.record(
            session,
            workspace.id,
            "workspace.linked",
            actor,
            client_key=installation.client_key,
            detail=f"linked to {installation.base_url} with a {how}",
        )
    sync.push_linked_workspace(session, installation, workspace)
    logger.info(
        "workspace linked workspace=%s client_key=%s", workspace.public_id, installation.client_key
    )


def _invalid_proof() -> Forbidden:
    return Forbidden(
        "The link code or workspace key is not valid (a link code works once, until it expires "
        "or a newer one is issued).",
        code="invalid_workspace_proof",
    )


def revoke_links_made_with_codes(session: Session, workspace: Workspace, *, actor: str) -> int:
    """Unlink every site a link code linked (after a key rotation); how many."""
    count = 0
    for link in workspaces.links_made_with_codes(session, workspace.id):
        installation = session.get_one(Installation, link.installation_id)
        unlink_workspace(session, installation, workspace.public_id, actor=actor)
        count += 1
    return count


def unlink_workspace(
    session: Session, installation: Installation, workspace_public_id: str, *, actor: str = "cli"
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
    workspaces.record(
        session,
        workspace.id,
        "workspace.unlinked",
        actor,
        client_key=installation.client_key,
        detail=f"unlinked from {installation.base_url}",
    )
    logger.info(
        "workspace unlinked workspace=%s client_key=%s",
        workspace.public_id,
        installation.client_key,
    )
    return workspace
