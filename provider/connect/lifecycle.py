"""Lifecycle events: parse the payload Jira sends and record what it means.

Installations are keyed by ``clientKey`` only. A ``baseUrl`` is data, never an identity: one site
can have several client keys over time (site imports), and a lookup by URL would let a forged body
take over another tenant's row. Functions here never commit; the lifecycle view does.
"""

from __future__ import annotations

import enum
import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from provider.config import LOOPBACK_HOSTS
from provider.connect.models import Installation
from provider.connect.models import UsedLifecycleToken
from provider.crypto import SecretBox
from provider.errors import BadRequest
from provider.errors import ValidationFailed
from provider.schema.fields import RequestModel
from provider.schema.fields import Text
from provider.schema.parsing import parse_model
from provider.times import utcnow

logger = logging.getLogger(__name__)


class LifecycleEvent(enum.StrEnum):
    INSTALLED = "installed"
    UNINSTALLED = "uninstalled"
    ENABLED = "enabled"
    DISABLED = "disabled"


def host_allowed(host: str, patterns: Iterable[str]) -> bool:
    """Does ``host`` match one of ``patterns``, where ``*`` stands for exactly one DNS label?

    ``*.atlassian.net`` matches ``acme.atlassian.net`` but neither ``atlassian.net`` nor
    ``a.b.atlassian.net``, and never ``acme.atlassian.net.evil.com``.
    """
    labels = host.lower().rstrip(".").split(".")
    if not all(labels):
        return False
    for pattern in patterns:
        wanted = pattern.strip().lower().rstrip(".").split(".")
        if len(wanted) == len(labels) and all(
            w == "*" or w == label for w, label in zip(wanted, labels, strict=True)
        ):
            return True
    return False


def _url_error(value: str) -> str | None:
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        return "must be an absolute http(s) URL"
    if parts.scheme not in ("http", "https") or not host or parts.username or parts.password:
        return "must be an absolute http(s) URL"
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
        return "must use https"
    return None


class LifecycleBody(RequestModel):
    """A lifecycle callback's body as Jira sends it (Forge adds ``installationId``)."""

    event_type: Annotated[str, Text(50, nonempty=True)]
    client_key: Annotated[str, Text(255, nonempty=True)]
    shared_secret: Annotated[str, Text(1000, nonempty=True, strip=False)]
    base_url: Annotated[str, Text(2000, nonempty=True)]
    display_url: Annotated[str, Text(2000)] | None = None
    cloud_id: Annotated[str, Text(255)] | None = None
    product_type: Annotated[str, Text(50)] | None = None
    description: Annotated[str, Text(1000)] | None = None
    installation_id: Annotated[str, Text(255)] | None = None


@dataclass(frozen=True, slots=True)
class LifecyclePayload:
    event_type: LifecycleEvent
    client_key: str
    shared_secret: str
    base_url: str
    display_url: str | None
    cloud_id: str | None
    product_type: str | None
    description: str | None
    forge_installation_id: str | None

    @classmethod
    def from_json(
        cls, raw: object, *, event: LifecycleEvent, allowed_hosts: Iterable[str]
    ) -> LifecyclePayload:
        """Validate a lifecycle body for the route of ``event``.

        :raises BadRequest: naming every field that is missing or wrong, including a ``baseUrl``
            whose host is not in ``ALLOWED_JIRA_HOSTS`` and an ``eventType`` of another route.
        """
        try:
            body = parse_model(LifecycleBody, raw, what="lifecycle payload")
        except ValidationFailed as e:
            # Jira is the only legitimate sender: a body it would never send is a bad request.
            raise BadRequest(
                e.message, code="invalid_lifecycle_payload", details=e.details
            ) from None
        problems: dict[str, str] = {}
        if body.event_type != event.value:
            problems["eventType"] = f"must be '{event.value}' on this route"
        if problem := _url_error(body.base_url):
            problems["baseUrl"] = problem
        elif not host_allowed(urlsplit(body.base_url).hostname or "", allowed_hosts):
            problems["baseUrl"] = "is not a Jira site this app serves (ALLOWED_JIRA_HOSTS)"
        if body.display_url and (problem := _url_error(body.display_url)):
            problems["displayUrl"] = problem
        if problems:
            name, message = next(iter(problems.items()))
            raise BadRequest(
                f"{name} {message}",
                code="invalid_lifecycle_payload",
                details={"source": {"pointer": f"/{name}"}, "fields": problems},
            )
        return cls(
            event_type=event,
            client_key=body.client_key,
            shared_secret=body.shared_secret,
            base_url=body.base_url.rstrip("/"),
            display_url=body.display_url.rstrip("/") if body.display_url else None,
            cloud_id=body.cloud_id or None,
            product_type=body.product_type or None,
            description=body.description or None,
            forge_installation_id=body.installation_id or None,
        )


def get_installation(session: Session, client_key: str) -> Installation | None:
    return session.scalars(
        select(Installation).where(Installation.client_key == client_key)
    ).one_or_none()


def _apply_install(
    installation: Installation, payload: LifecyclePayload, box: SecretBox, *, revive: bool
) -> None:
    installation.base_url = payload.base_url
    installation.display_url = payload.display_url
    installation.shared_secret_encrypted = box.encrypt(payload.shared_secret)
    installation.cloud_id = payload.cloud_id or installation.cloud_id
    installation.product_type = payload.product_type or installation.product_type
    installation.description = payload.description
    installation.forge_installation_id = (
        payload.forge_installation_id or installation.forge_installation_id
    )
    # A verified install proves the site trusts the new secret again, so a delivery pause
    # caused by Jira refusing the old one is over.
    installation.delivery_paused_at = None
    installation.delivery_paused_reason = None
    if revive:
        installation.installed = True
        installation.enabled = True
        installation.uninstalled_at = None
        installation.installed_at = utcnow()


def record_installed(
    session: Session, payload: LifecyclePayload, *, box: SecretBox
) -> tuple[Installation, bool]:
    """Store a verified ``installed`` event; returns the installation and whether it existed.

    Only call this after the signed install was verified: it replaces the shared secret.
    An ``installed`` for a site that is still installed (an app update) keeps its enabled flag;
    one after an uninstall starts afresh.
    """
    existing = get_installation(session, payload.client_key)
    if existing is None:
        installation = Installation(client_key=payload.client_key, installed=True, enabled=True)
        _apply_install(installation, payload, box, revive=False)
        try:
            with session.begin_nested():
                session.add(installation)
        except IntegrityError:
            # The same site's install raced with this one; the row exists now, so update it.
            existing = get_installation(session, payload.client_key)
            if existing is None:
                raise
        else:
            return installation, False
    _apply_install(existing, payload, box, revive=not existing.installed)
    session.flush()
    return existing, True


def record_uninstalled(session: Session, client_key: str) -> Installation | None:
    """Mark the site uninstalled, keeping the row (and its secret) for a later re-install."""
    installation = get_installation(session, client_key)
    if installation is None:
        return None
    installation.installed = False
    installation.uninstalled_at = utcnow()
    # A system token outlives nothing it was for; the next install's invocations bring a new one.
    installation.forge_system_token_encrypted = None
    installation.forge_token_expires_at = None
    session.flush()
    return installation


def record_enabled(session: Session, client_key: str, *, enabled: bool) -> Installation | None:
    """Set the enabled flag only: a late ``enabled`` never revives an uninstalled site."""
    installation = get_installation(session, client_key)
    if installation is None:
        return None
    installation.enabled = enabled
    session.flush()
    return installation


def spend_token(session: Session, token: str, *, client_key: str, expires_at: datetime) -> bool:
    """Record a verified lifecycle token as used; ``False`` when it was used before.

    The unique hash decides, so two requests racing with one token cannot both pass.
    """
    session.execute(delete(UsedLifecycleToken).where(UsedLifecycleToken.expires_at < utcnow()))
    try:
        with session.begin_nested():
            session.add(
                UsedLifecycleToken(
                    token_hash=hashlib.sha256(token.encode()).hexdigest(),
                    client_key=client_key[:255],
                    expires_at=expires_at,
                )
            )
    except IntegrityError:
        return False
    return True
