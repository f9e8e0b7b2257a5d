"""Workspaces: creation (with a fallback component), keys, link codes and the audit log.

A workspace key is its owner's credential; a link code is a one-time proof of ownership handed
to one Jira site's admin, valid for a day by default, and revoked by a newer code or a key
rotation. Every change of links, keys or integrations is written to the audit log with who did
it and from which site. The context's interface; other contexts use the types re-exported here.
"""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from provider.crypto import hash_key
from provider.crypto import new_key
from provider.errors import NotFound
from provider.ops.access.principal import ApiPrincipal
from provider.ops.components import service as components
from provider.ops.workspaces.models import AuditEvent as AuditEvent
from provider.ops.workspaces.models import LinkCode as LinkCode
from provider.ops.workspaces.models import Workspace as Workspace
from provider.ops.workspaces.models import WorkspaceLink as WorkspaceLink
from provider.times import iso
from provider.times import utcnow

API_KEY_PREFIX = "wsk"
LINK_CODE_PREFIX = "wlc"
LINK_CODE_LIFETIME = timedelta(days=1)
MAX_LINK_CODE_LIFETIME = timedelta(days=30)
AUDIT_PAGE = 50


def create_workspace(
    session: Session, name: str, *, actor: str = "cli"
) -> tuple[Workspace, str, str]:
    """Create a workspace; returns it with its API key and a first link code (each shown once).

    :param actor: who creates it, for the audit log.
    """
    api_key = new_key(API_KEY_PREFIX)
    workspace = Workspace(name=name, api_key_hash=hash_key(api_key))
    session.add(workspace)
    session.flush()
    components.fallback_component(session, workspace.id)
    record(session, workspace.id, "workspace.created", actor, detail=name[:255])
    link_code = issue_link_code(session, workspace, actor=actor)
    return workspace, api_key, link_code


def issue_link_code(
    session: Session,
    workspace: Workspace,
    *,
    actor: str,
    lifetime: timedelta = LINK_CODE_LIFETIME,
    client_key: str | None = None,
) -> str:
    """A new one-time link code (shown once, stored hashed); earlier unused codes stop working.

    :raises ValueError: for a lifetime not between a minute and thirty days.
    """
    if not timedelta(minutes=1) <= lifetime <= MAX_LINK_CODE_LIFETIME:
        raise ValueError("a link code lives between a minute and thirty days")
    now = utcnow()
    _revoke_unused_codes(session, workspace.id, now)
    code = new_key(LINK_CODE_PREFIX)
    session.add(
        LinkCode(
            workspace_id=workspace.id,
            code_hash=hash_key(code),
            issued_by=actor[:255],
            expires_at=now + lifetime,
        )
    )
    session.flush()
    record(
        session,
        workspace.id,
        "link_code.issued",
        actor,
        client_key=client_key,
        detail=f"valid until {iso(now + lifetime)}",
    )
    return code


def _revoke_unused_codes(session: Session, workspace_id: int, now: datetime) -> int:
    result = session.execute(
        update(LinkCode)
        .where(
            LinkCode.workspace_id == workspace_id,
            LinkCode.used_at.is_(None),
            LinkCode.revoked_at.is_(None),
            LinkCode.expires_at > now,
        )
        .values(revoked_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def valid_link_code(session: Session, code: str) -> LinkCode | None:
    """The link code row for ``code`` if it can still link (unused, not revoked, not expired)."""
    if not code.startswith(f"{LINK_CODE_PREFIX}_") or len(code) > 200:
        return None
    return session.scalars(
        select(LinkCode).where(
            LinkCode.code_hash == hash_key(code),
            LinkCode.used_at.is_(None),
            LinkCode.revoked_at.is_(None),
            LinkCode.expires_at > utcnow(),
        )
    ).first()


def spend_link_code(session: Session, code: LinkCode, installation_id: int) -> bool:
    """Mark the code used by this site; ``False`` when another request spent it first.

    One conditional UPDATE, so two sites racing with one code cannot both link.
    """
    result = session.execute(
        update(LinkCode)
        .where(LinkCode.id == code.id, LinkCode.used_at.is_(None))
        .values(used_at=utcnow(), used_by_installation_id=installation_id)
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


def used_link_code(session: Session, code: str) -> LinkCode | None:
    """The row of ``code`` if it was already used (to let its own site link again harmlessly)."""
    return session.scalars(
        select(LinkCode).where(LinkCode.code_hash == hash_key(code), LinkCode.used_at.is_not(None))
    ).first()


def record(
    session: Session,
    workspace_id: int,
    action: str,
    actor: str,
    *,
    client_key: str | None = None,
    detail: str = "",
) -> None:
    """Write one audit event in the caller's transaction (it commits with the change)."""
    session.add(
        AuditEvent(
            workspace_id=workspace_id,
            action=action,
            actor=actor[:255],
            client_key=client_key[:255] if client_key else None,
            detail=detail[:1000],
        )
    )


def audit_events(
    session: Session, workspace_id: int, *, limit: int = AUDIT_PAGE
) -> list[AuditEvent]:
    """The workspace's latest audit events, newest first."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.workspace_id == workspace_id)
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .limit(limit)
        )
    )


def require_workspace(session: Session, ref: str) -> Workspace:
    """Find a workspace by its public id (or, for the CLI, its number).

    :raises NotFound:
    """
    workspace = session.scalars(select(Workspace).where(Workspace.public_id == ref)).first()
    if workspace is None and ref.isascii() and ref.isdigit():
        workspace = session.get(Workspace, int(ref))
    if workspace is None:
        raise NotFound(f"No workspace {ref!r}.")
    return workspace


def rotate_api_key(session: Session, workspace: Workspace, *, actor: str = "cli") -> str:
    """Replace the workspace's key; the old one stops working when the transaction commits.

    Unused link codes are revoked with it: whoever held the old key may have handed them out.
    """
    api_key = new_key(API_KEY_PREFIX)
    now = utcnow()
    workspace.api_key_hash = hash_key(api_key)
    workspace.key_rotated_at = now
    revoked = _revoke_unused_codes(session, workspace.id, now)
    session.flush()
    record(
        session, workspace.id, "key.rotated", actor, detail=f"{revoked} unused link codes revoked"
    )
    return api_key


def links_made_with_codes(session: Session, workspace_id: int) -> list[WorkspaceLink]:
    """The workspace's links that a link code made (not its key, not creation inside a site)."""
    return list(
        session.scalars(
            select(WorkspaceLink)
            .where(
                WorkspaceLink.workspace_id == workspace_id, WorkspaceLink.link_code_id.is_not(None)
            )
            .order_by(WorkspaceLink.id)
        )
    )


def authenticate_api_key(session: Session, api_key: str) -> Workspace | None:
    """The workspace this key belongs to, if any.

    Lookup is by the key's SHA-256, so the comparison never touches the key's bytes one by one.
    """
    if not api_key.startswith(f"{API_KEY_PREFIX}_") or len(api_key) > 200:
        return None
    return session.scalars(
        select(Workspace).where(Workspace.api_key_hash == hash_key(api_key))
    ).first()


def resolve_workspace_key(session: Session, api_key: str) -> ApiPrincipal | None:
    workspace = authenticate_api_key(session, api_key)
    if workspace is None:
        return None
    return ApiPrincipal(workspace=workspace, key_id=f"workspace:{workspace.id}")
