"""The app descriptor: the template ``atlassian-connect.json`` at the repository root, rendered.

Only ``{{baseUrl}}``, ``{{appKey}}`` and ``{{appName}}`` are filled in, inside JSON string values
(so a quote in the app name cannot break the document). Nothing else is added or changed: an
implicit change to a descriptor becomes a new app version for every site (the lesson of
atlassian-connect-express injecting ``signed-install``).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from provider.config import Settings

TEMPLATE_PATH = Path(__file__).resolve().parent.parent.parent / "atlassian-connect.json"
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z]+)\s*\}\}")


class DescriptorError(Exception):
    """The descriptor template is missing or uses a placeholder this app does not know."""


def _values(settings: Settings) -> dict[str, str]:
    return {
        "baseUrl": settings.base_url.rstrip("/"),
        "appKey": settings.app_key,
        "appName": settings.app_name,
    }


def _fill(node: Any, values: dict[str, str]) -> Any:
    if isinstance(node, str):

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in values:
                raise DescriptorError(f"unknown descriptor placeholder {{{{{name}}}}}")
            return values[name]

        return _PLACEHOLDER.sub(replace, node)
    if isinstance(node, list):
        return [_fill(item, values) for item in node]
    if isinstance(node, dict):
        return {_fill(key, values): _fill(value, values) for key, value in node.items()}
    return node


def render(template: Any, settings: Settings) -> dict[str, Any]:
    """Fill the placeholders of a parsed template; the template itself is left untouched."""
    rendered = _fill(copy.deepcopy(template), _values(settings))
    if not isinstance(rendered, dict):
        raise DescriptorError("the descriptor template must be a JSON object")
    return rendered


def load(settings: Settings, path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """Read and render the template.

    :raises DescriptorError: when the file is missing, not JSON, or uses an unknown placeholder.
    """
    try:
        template = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DescriptorError(f"descriptor template not found at {path}") from None
    except json.JSONDecodeError as e:
        raise DescriptorError(f"descriptor template is not valid JSON: {e}") from None
    return render(template, settings)
