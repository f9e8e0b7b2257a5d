"""The paths other products print, served by the routes that already answer them.

JSM prints its operations API as ``https://api.atlassian.com/jsm/ops/api/{cloudId}/v1/…`` and takes
Opsgenie-style integration requests at ``…/jsm/ops/integration/v2/…``; Opsgenie's SDKs add a
trailing slash to some paths. Rather than register every route again under each prefix, the
prefix moves into ``SCRIPT_NAME`` (as a mount point would), so the same ``/v1`` and ``/v2``
routes answer, and the links they write (``links.next``, ``paging``) keep the prefix the caller
used. The cloudId chooses nothing: the API key decides the workspace, as everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from werkzeug.wsgi import get_path_info

# ``/jsm/ops/api/<cloudId>/v1/…``: one path segment of any text stands for the cloudId.
JSM_CLOUD = re.compile(r"^(/jsm/ops/api/[^/]+)(/v1(?:/.*)?)$")
JSM_INTEGRATION = re.compile(r"^(/jsm/ops/integration)(/v2(?:/.*)?)$")
OPSGENIE_PREFIX = "/v2/"
# The environ key naming the JSM prefix a request came by: its callers parse JSM's errors only.
JSM_MOUNT = "provider.jsm_mount"


def split_prefix(path: str) -> tuple[str, str]:
    """``(mount, path)``: the JSM prefix a request used, and the path the app's routes know."""
    for pattern in (JSM_CLOUD, JSM_INTEGRATION):
        match = pattern.match(path)
        if match:
            return match.group(1), match.group(2)
    return "", path


def without_trailing_slash(path: str) -> str:
    """Opsgenie's paths with the slash its npm SDK adds (``POST /v2/alerts/``) taken off."""
    if path.startswith(OPSGENIE_PREFIX) and len(path) > len(OPSGENIE_PREFIX):
        return path.rstrip("/") or path
    return path


def _wsgi(text: str) -> str:
    return text.encode().decode("latin-1")


class JsmPaths:
    """WSGI middleware: ``/jsm/ops/api/{cloudId}/v1/…`` is ``/v1/…`` mounted at that prefix."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        original = get_path_info(environ)
        mount, path = split_prefix(original)
        path = without_trailing_slash(path)
        if mount or path != original:
            # WSGI carries the path as latin-1 text of its UTF-8 bytes.
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + _wsgi(mount)
            environ["PATH_INFO"] = _wsgi(path)
            if mount:
                environ[JSM_MOUNT] = mount
        return self.app(environ, start_response)  # type: ignore[no-any-return]
