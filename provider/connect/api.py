"""Connect's own routes: the descriptor and the four lifecycle callbacks.

``installed`` and ``uninstalled`` are accepted only with a signed install (RS256 by Atlassian's
key for the token's ``kid``). ``enabled`` and ``disabled`` take the same, or the HS256 token Jira
signs them with using the site's current shared secret. Other packages react to lifecycle events
through ``app.extensions["provider.lifecycle_hooks"]``, called inside the request's transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import jwt as pyjwt
from flask import Blueprint
from flask import Flask
from flask import Response
from flask import current_app
from flask import jsonify
from flask import request
from sqlalchemy.orm import Session

from provider.config import Settings
from provider.connect import descriptor
from provider.connect.auth import extract_token
from provider.connect.auth import request_target
from provider.connect.install_keys import HttpInstallKeys
from provider.connect.install_keys import InstallKeys
from provider.connect.jwt import RequestTarget
from provider.connect.jwt import verify_host_jwt
from provider.connect.jwt import verify_install_jwt
from provider.connect.lifecycle import LifecycleEvent
from provider.connect.lifecycle import LifecyclePayload
from provider.connect.lifecycle import get_installation
from provider.connect.lifecycle import record_enabled
from provider.connect.lifecycle import record_installed
from provider.connect.lifecycle import record_uninstalled
from provider.connect.models import Installation
from provider.crypto import SecretBox
from provider.db import get_session
from provider.errors import Unauthorized
from provider.extension import SECRET_BOX
from provider.extension import SETTINGS
from provider.logging import client_key_var

logger = logging.getLogger(__name__)

bp = Blueprint("connect", __name__)

LifecycleHook = Callable[..., None]
HOOKS_KEY = "provider.lifecycle_hooks"


def init_app(app: Flask, settings: Settings, install_keys: InstallKeys | None = None) -> None:
    """Render the descriptor once, set up install keys and hooks, register the routes.

    :raises DescriptorError: at start-up, not on the first request, when the template is bad.
    """
    app.extensions["provider.descriptor"] = descriptor.load(settings)
    app.extensions["provider.install_keys"] = install_keys or HttpInstallKeys(
        settings.install_keys_url
    )
    app.extensions.setdefault(HOOKS_KEY, {event.value: [] for event in LifecycleEvent})
    app.register_blueprint(bp)


def add_lifecycle_hook(app: Flask, event: LifecycleEvent | str, hook: LifecycleHook) -> None:
    """Run ``hook`` after a verified lifecycle event, inside the same transaction.

    ``installed`` hooks are called as ``hook(session, installation, reinstalled)``, the others as
    ``hook(session, installation)``. A hook that raises makes Jira see an error and retry.
    """
    app.extensions[HOOKS_KEY][LifecycleEvent(event).value].append(hook)


@bp.get("/atlassian-connect.json")
def atlassian_connect() -> Response:
    response = jsonify(current_app.extensions["provider.descriptor"])
    response.headers["Cache-Control"] = "no-store"
    return response


def _verify_hs256(
    token: str, target: RequestTarget, session: Session, payload: LifecyclePayload, box: SecretBox
) -> None:
    def secret_for(iss: str) -> str | None:
        if iss != payload.client_key:
            return None
        installation = get_installation(session, iss)
        if installation is None or not installation.installed:
            return None
        try:
            return box.decrypt(installation.shared_secret_encrypted)
        except ValueError:
            return None

    verify_host_jwt(
        token,
        target,
        secret_for=secret_for,
        mode="request",
        leeway=SETTINGS.get().jwt_leeway_seconds,
    )


def _authenticate(event: LifecycleEvent, payload: LifecyclePayload, session: Session) -> None:
    settings: Settings = SETTINGS.get()
    keys: InstallKeys = current_app.extensions["provider.install_keys"]
    box: SecretBox = SECRET_BOX.get()
    token = extract_token()
    target = request_target(request.environ, base_path=settings.base_path)
    try:
        alg = pyjwt.get_unverified_header(token).get("alg")
    except pyjwt.PyJWTError:
        raise Unauthorized("The JWT is malformed.", code="invalid_token") from None
    try:
        if alg == "HS256" and event in (LifecycleEvent.ENABLED, LifecycleEvent.DISABLED):
            _verify_hs256(token, target, session, payload, box)
        else:
            verify_install_jwt(
                token,
                target,
                client_key=payload.client_key,
                audience=settings.base_url,
                public_key_for=keys.public_key,
                leeway=settings.jwt_leeway_seconds,
            )
    except (ValueError, TypeError, OverflowError, UnicodeError):
        raise Unauthorized("The JWT is malformed.", code="invalid_token") from None


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
    hooks: dict[str, list[LifecycleHook]] = current_app.extensions[HOOKS_KEY]
    installation: Installation | None
    if event is LifecycleEvent.INSTALLED:
        box: SecretBox = SECRET_BOX.get()
        installation, reinstalled = record_installed(session, payload, box=box)
        for hook in hooks[event.value]:
            hook(session, installation, reinstalled)
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
        for hook in hooks[event.value]:
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
