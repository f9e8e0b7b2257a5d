"""The Forge Remote endpoint Forge invokes on its own: hourly, and at install and upgrade.

The manifest points a scheduled trigger and the app lifecycle events at it. Verifying the call
keeps the app system token it brings (see :mod:`provider.connect.forge_auth`), which is all these
invocations are for: background pushes have no inbound request to bring one.
"""

from __future__ import annotations

from flask import Blueprint

from provider.connect.auth import forge_invocation_required
from provider.connect.forge import INVOCATIONS_PATH

bp = Blueprint("forge_remote", __name__)


@bp.post(INVOCATIONS_PATH)
@forge_invocation_required
def invocation() -> tuple[str, int]:
    return "", 204
