"""Rows for tests that need a Jira site already installed, without going through /installed."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from provider.connect.models import Installation
from provider.crypto import SecretBox
from tests.conftest import TEST_SECRET_KEY
from tests.signing import JiraSigner


def make_installation(
    session: Session,
    signer: JiraSigner,
    *,
    secret_key: str = TEST_SECRET_KEY,
    **overrides: Any,
) -> Installation:
    """Store ``signer``'s site as installed and enabled (add and flush; the caller commits)."""
    values: dict[str, Any] = {
        "client_key": signer.client_key,
        "base_url": signer.jira_base_url,
        "display_url": signer.jira_base_url,
        "shared_secret_encrypted": SecretBox(secret_key).encrypt(signer.shared_secret),
        "cloud_id": signer.cloud_id,
        "product_type": "jira",
        "installed": True,
        "enabled": True,
    }
    values.update(overrides)
    installation = Installation(**values)
    session.add(installation)
    session.flush()
    return installation
