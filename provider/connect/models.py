"""Installations: one row per Jira site (``clientKey``), never deleted."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from provider.db import Base
from provider.db import created_now
from provider.db import intpk
from provider.db import updated_now
from provider.times import iso


class InstallationState(enum.StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"
    UNINSTALLED = "uninstalled"


class JiraAuth(enum.StrEnum):
    """How the app authenticates its own calls to the site."""

    CONNECT = "connect"  # a Connect JWT signed with the shared secret, at base_url
    FORGE = "forge"  # the latest Forge app system token as a Bearer, at forge_api_base_url


class Installation(Base):
    __tablename__ = "installations"

    id: Mapped[intpk]
    client_key: Mapped[str] = mapped_column(String(255), unique=True)
    base_url: Mapped[str] = mapped_column(String(2000))
    display_url: Mapped[str | None] = mapped_column(String(2000))
    # Fernet token of the shared secret (provider.crypto.SecretBox); never the plain secret.
    shared_secret_encrypted: Mapped[str] = mapped_column(Text)
    cloud_id: Mapped[str | None] = mapped_column(String(255))
    product_type: Mapped[str | None] = mapped_column(String(50))
    description: Mapped[str | None] = mapped_column(String(1000))
    # Forge's installation id (an ARI), from the install payload; Forge Invocation Tokens name
    # the installation by it.
    forge_installation_id: Mapped[str | None] = mapped_column(String(255), index=True)
    jira_auth: Mapped[JiraAuth] = mapped_column(
        default=JiraAuth.CONNECT, server_default=JiraAuth.CONNECT.value
    )
    # The latest app system token a verified invocation brought (Fernet, never plain), where it
    # is valid (the token's app.apiBaseUrl) and until when (its own exp, when it says).
    forge_system_token_encrypted: Mapped[str | None] = mapped_column(Text)
    forge_api_base_url: Mapped[str | None] = mapped_column(String(2000))
    forge_token_expires_at: Mapped[datetime | None]
    forge_token_received_at: Mapped[datetime | None]
    # Lifecycle events arrive out of order (disabled and uninstalled ~5 ms apart), so each event
    # sets its own flag and the state is derived: no event can undo another one's meaning.
    installed: Mapped[bool] = mapped_column(default=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    installed_at: Mapped[created_now]
    uninstalled_at: Mapped[datetime | None]
    updated_at: Mapped[updated_now]
    # Set when Jira answers 401/403 to the app's calls: delivery stops until a re-install.
    delivery_paused_at: Mapped[datetime | None]
    delivery_paused_reason: Mapped[str | None] = mapped_column(String(1000))

    @property
    def state(self) -> InstallationState:
        if not self.installed:
            return InstallationState.UNINSTALLED
        return InstallationState.ENABLED if self.enabled else InstallationState.DISABLED

    @property
    def active(self) -> bool:
        """May Jira call the app as this installation, and may the app call Jira?"""
        return self.state is InstallationState.ENABLED

    def to_json(self) -> dict[str, Any]:
        """A public view, without the shared secret."""
        return {
            "clientKey": self.client_key,
            "baseUrl": self.base_url,
            "displayUrl": self.display_url,
            "cloudId": self.cloud_id,
            "productType": self.product_type,
            "state": self.state.value,
            "installedAt": iso(self.installed_at),
            "uninstalledAt": iso(self.uninstalled_at),
            "jiraAuth": self.jira_auth.value,
            "forgeInstallationId": self.forge_installation_id,
            "forgeToken": None
            if self.forge_system_token_encrypted is None
            else {
                "apiBaseUrl": self.forge_api_base_url,
                "receivedAt": iso(self.forge_token_received_at),
                "expiresAt": iso(self.forge_token_expires_at),
            },
            "deliveryPaused": self.delivery_paused_at is not None,
            "deliveryPausedReason": self.delivery_paused_reason,
        }


class UsedLifecycleToken(Base):
    """A lifecycle JWT already accepted: its ``qsh`` covers the URL, not the body, so a captured
    token replayed with another body (another ``sharedSecret``) must find it spent."""

    __tablename__ = "used_lifecycle_tokens"

    # SHA-256 of the whole token: never the token itself.
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_key: Mapped[str] = mapped_column(String(255))
    # Once the token has expired it cannot verify anyway, and the row may go.
    expires_at: Mapped[datetime] = mapped_column(index=True)
