"""Who is calling the ``/v1`` API: the principal behind an API key, and the key resolvers.

A workspace key has full access to its workspace; an integration key acts for its integration.
The composition root hands the key lookups of each context to :class:`KeyResolvers`, so this
module imports none of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import Protocol

from sqlalchemy.orm import Session

from provider.ops.workspaces.models import Workspace

READ = "read"
WRITE = "write"
DELETE = "delete"
CONFIGURE = "configure"
ALL_ACTIONS = frozenset({READ, WRITE, DELETE, CONFIGURE})


class IntegrationInfo(Protocol):
    """What the alerts part needs of an integration to attribute alerts and requests to it."""

    @property
    def public_id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def type(self) -> str: ...


@dataclass(frozen=True, slots=True)
class ApiPrincipal:
    """The caller of a ``/v1`` request: always a workspace, sometimes one of its integrations."""

    workspace: Workspace
    integration: IntegrationInfo | None = None
    permissions: frozenset[str] = ALL_ACTIONS
    # Identifies the key for rate limiting without keeping the key itself.
    key_id: str = ""

    def can(self, action: str) -> bool:
        return action in self.permissions

    @property
    def actor(self) -> str:
        """How logs name the caller when the request names no user."""
        if self.integration is not None:
            return f"integration:{self.integration.name}"
        return "api-key"


KeyResolver = Callable[[Session, str], ApiPrincipal | None]


@dataclass
class KeyResolvers:
    """The ordered key lookups of one app; the first that recognises a key wins."""

    resolvers: list[KeyResolver] = field(default_factory=list)

    def resolve(self, session: Session, key: str) -> ApiPrincipal | None:
        for resolver in self.resolvers:
            principal = resolver(session, key)
            if principal is not None:
                return principal
        return None
