"""Connect's own routes: the descriptor and the four lifecycle callbacks.

``installed`` and ``uninstalled`` are accepted only with a signed install (RS256 by Atlassian's
key for the token's ``kid``). ``enabled`` and ``disabled`` take the same, or the HS256 token Jira
signs them with using the site's current shared secret. Other packages react to lifecycle events
through the :class:`LifecycleHooks` the composition root passes in, called inside the request's
transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from typing import Any

import jwt as pyjwt
from flask import Blueprint
from flask import Flask
from flask import Response
from flask import jsonify
from flask import request
from sqlalchemy.orm import Session

from provider.config import Settings
from provider.connect import descriptor
from provider.connect.auth import INSTALLATIONS
from provider.connect.auth import extract_token
from provider.connect.auth import request_target
from provider.connect.forge_auth import FORGE_KEYS
from provider.connect.forge_keys import HttpForgeKeys
from provider.connect.install_keys import HttpInstallKeys
from provider.connect.install_keys import InstallKeys
from provider.connect.installations import InstallationStore
from provider.connect.jwt import JwtError
from provider.connect.jwt import issuer_of
from provider.connect.jwt import key_id_of
from provider.connect.jwt import verify_host_jwt
from provider.connect.jwt import verify_install_jwt
from provider.connect.lifecycle import LifecycleEvent
from provider.connect.lifecycle import LifecyclePayload
from provider.connect.lifecycle import record_enabled
from provider.connect.lifecycle import record_installed
from provider.connect.lifecycle import record_uninstalled
from provider.connect.lifecycle import spend_token
from provider.connect.models import Installation
from provider.db import get_session
from provider.errors import Unauthorized
from provider.extension import SECRET_BOX
from provider.extension import SETTINGS
from provider.extension import Extension
from provider.logging import client_key_var

logger = logging.getLogger(__name__)

bp = Blueprint("connect", __name__)

InstalledHook = Callable[[Session, Installation, bool], None]
LifecycleHook = Callable[[Session, Installation], None]


@dataclass
class LifecycleHooks:
    """What follows a verified lifecycle event, inside its transaction (raising makes Jira retry).

    ``installed`` hooks also learn whether this was a re-install.
    """

    installed: list[InstalledHook] = field(default_factory=list)
    uninstalled: list[LifecycleHook] = field(default_factory=list)
    enabled: list[LifecycleHook] = field(default_factory=list)
    disabled: list[LifecycleHook] = field(default_factory=list)


DESCRIPTOR: Extension[dict[str, Any]] = Extension("descriptor")
INSTALL_KEYS: Extension[InstallKeys] = Extension("install_keys")
HOOKS: Extension[LifecycleHooks] = Extension("lifecycle_hooks")


def init_app(
    app: Flask,
    settings: Settings,
    *,
    install_keys: InstallKeys | None = None,
    hooks: LifecycleHooks | None = None,
) -> None:
    """Render the descriptor once, set up install keys, Forge's keys, installations and hooks,
    add the routes.

    :raises DescriptorError: at start-up, not on the first request, when the template is bad.
    """
    DESCRIPTOR.install(app, descriptor.load(settings))
    INSTALL_KEYS.install(app, install_keys or HttpInstallKeys(settings.install_keys_url))
    INSTALLATIONS.install(app, InstallationStore(SECRET_BOX.of(app)))
    FORGE_KEYS.install(
        app, HttpForgeKeys(settings.forge_jwks_url, allow_private=settings.allow_private_outbound)
    )
    HOOKS.install(app, hooks or LifecycleHooks())
    app.register_blueprint(bp)


@bp.get("/atlassian-connect.json")
def atlassian_connect() -> Response:
    response = jsonify(DESCRIPTOR.get())
    response.headers["Cache-Control"] = "no-store"
    return response


def _authenticate(
    event: LifecycleEvent, payload: LifecyclePayload, session: Session
) -> dict[str, Any]:
    """Verify the event's token and spend it; returns its claims.

    :raises Unauthorized: for a token that does not verify, or one used before.
    """
    settings = SETTINGS.get()
    token = extract_token()
    target = request_target(request.environ, base_path=settings.base_path)
    try:
        alg = pyjwt.get_unverified_header(token).get("alg")
    except pyjwt.PyJWTError:
        raise Unauthorized("The JWT is malformed.", code="invalid_token") from None
    try:
        if alg == "HS256" and event in (LifecycleEvent.ENABLED, LifecycleEvent.DISABLED):
            # Jira signs enable/disable with the site's current secret; only that site's own.
            found = INSTALLATIONS.get().find(session, payload.client_key, disabled=True)
            if found is None or issuer_of(token) != payload.client_key:
                raise JwtError("The JWT issuer is not an installed site.", code="unknown_issuer")
            claims = verify_host_jwt(
                token, target, secret=found.secret, leeway=settings.jwt_leeway_seconds
            )
        else:
            claims = verify_install_jwt(
                token,
                target,
                client_key=payload.client_key,
                audience=settings.base_url,
                public_key=INSTALL_KEYS.get().public_key(key_id_of(token)),
                leeway=settings.jwt_leeway_seconds,
            )
    except JwtError as e:
        raise Unauthorized(e.message, code=e.code) from None
    except (ValueError, TypeError, OverflowError, UnicodeError):
        raise Unauthorized("The JWT is malformed.", code="invalid_token") from None
    expires_at = datetime.fromtimestamp(int(claims["exp"]), UTC)
    if not spend_token(session, token, client_key=payload.client_key, expires_at=expires_at):
        raise Unauthorized("This lifecycle JWT was already used.", code="token_replayed")
    return claims


def _lifecycle(event: LifecycleEvent) -> tuple[str, int]:
    settings: Settings = SETTINGS.get()
    payload = LifecyclePayload.from_json(
        request.get_json(silent=True), event=event, allowed_hosts=settings.allowed_jira_hosts
    )
    session = get_session()
    try:
        _authenticate(event, payload, session)
    except Unauthorized as e:
        logger.warning(
            "lifecycle %s refused client_key=%s code=%s", event.value, payload.client_key, e.code
        )
        raise
    client_key_var.set(payload.client_key)
    hooks = HOOKS.get()
    # whatever this event changes, requests must not go on trusting a remembered copy
    INSTALLATIONS.get().forget(payload.client_key)
    installation: Installation | None
    if event is LifecycleEvent.INSTALLED:
        installation, reinstalled = record_installed(session, payload, box=SECRET_BOX.get())
        for installed_hook in hooks.installed:
            installed_hook(session, installation, reinstalled)
        logger.info(
            "installed base_url=%s reinstalled=%s forge=%s",
            installation.base_url,
            reinstalled,
            installation.forge_installation_id is not None,
        )
    else:
        if event is LifecycleEvent.UNINSTALLED:
            installation = record_uninstalled(session, payload.client_key)
        else:
            installation = record_enabled(
                session, payload.client_key, enabled=event is LifecycleEvent.ENABLED
            )
        if installation is None:
            logger.info("%s for an unknown site: nothing to record", event.value)
            return "", 204
        for hook in getattr(hooks, event.value):
            hook(session, installation)
        logger.info("%s state=%s", event.value, installation.state.value)
    session.commit()
    return "", 204


@bp.post("/installed")
def installed() -> Any:
    return _lifecycle(LifecycleEvent.INSTALLED)


@bp.post("/uninstalled")
def uninstalled() -> Any:
    return _lifecycle(LifecycleEvent.UNINSTALLED)


@bp.post("/enabled")
def enabled() -> Any:
    return _lifecycle(LifecycleEvent.ENABLED)


@bp.post("/disabled")
def disabled() -> Any:
    return _lifecycle(LifecycleEvent.DISABLED)
