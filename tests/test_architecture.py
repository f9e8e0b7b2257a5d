"""The layer rules of STYLE.md, enforced: who may import whom inside ``provider``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "provider"
FOUNDATION = {
    "config",
    "db",
    "errors",
    "validation",
    "logging",
    "times",
    "crypto",
    "migrate",
    "netguard",
    "schema",
    "extension",
}
COMPOSITION_ROOTS = {"app", "cli", "models", "commands"}

# package -> the top-level provider modules/packages it may import
ALLOWED: dict[str, set[str]] = {
    "config": set(),
    "foundation": FOUNDATION,
    "connect": FOUNDATION | {"connect"},
    "jira": FOUNDATION | {"connect", "jira"},
    "outbox": FOUNDATION | {"connect", "jira", "outbox"},
    "ops": FOUNDATION | {"connect", "jira", "outbox", "ops"},
    "web": FOUNDATION | {"connect", "jira", "outbox", "ops", "web"},
}
BLUEPRINT_MODULES = {"lifecycle", "descriptor", "api", "jira_actions", "admin", "reviews"}


def _modules() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py"))


def _layer(path: Path) -> str:
    rel = path.relative_to(ROOT)
    top = rel.parts[0].removesuffix(".py")
    if top == "config":
        return "config"
    if top in FOUNDATION:
        return "foundation"
    if top in COMPOSITION_ROOTS or top == "__init__":
        return "root"
    return top


def _imports(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node.lineno))
            found += [(f"{node.module}.{alias.name}", node.lineno) for alias in node.names]
    return found


def _defines_blueprint(parts: list[str]) -> bool:
    """Whether ``provider.<parts>`` is a module with a blueprint (not a same-named domain module)."""
    target = ROOT.joinpath(*parts)
    if target.is_dir():
        files = list(target.rglob("*.py"))
    else:
        files = [target.with_suffix(".py")] if target.with_suffix(".py").is_file() else []
    return any("Blueprint(" in f.read_text() for f in files)


def _violations() -> list[str]:
    problems: list[str] = []
    for path in _modules():
        layer = _layer(path)
        if layer == "root":
            continue
        allowed = ALLOWED.get(layer, FOUNDATION | {layer})
        for name, line in _imports(path):
            parts = name.split(".")
            if parts[0] == "jira_simulator":
                problems.append(
                    f"{path.relative_to(ROOT)}:{line} imports the development simulator"
                )
            if parts[0] != "provider" or len(parts) < 2:
                continue
            target = parts[1]
            if target == "__version__":
                continue  # package metadata (the User-Agent), not a layer
            if target not in allowed:
                problems.append(
                    f"{path.relative_to(ROOT)}:{line} ({layer}) imports provider.{target}"
                )
            if layer == "ops" and name.startswith("provider.jira.") and parts[2:3] != ["schemas"]:
                problems.append(f"{path.relative_to(ROOT)}:{line} ops may only use jira.schemas")
            if (
                layer == "ops"
                and name.startswith("provider.outbox.")
                and parts[2] not in ("queue", "models")
            ):
                problems.append(f"{path.relative_to(ROOT)}:{line} ops may only use outbox.queue")
            if (
                len(parts) >= 3
                and parts[-1] in BLUEPRINT_MODULES
                and target != layer
                and _defines_blueprint(parts[1:])
            ):
                problems.append(
                    f"{path.relative_to(ROOT)}:{line} imports a blueprint module {name}"
                )
    return problems


def test_layers_import_only_downwards() -> None:
    assert _violations() == []


def test_models_import_no_flask_or_requests() -> None:
    bad = []
    for path in ROOT.rglob("models.py"):
        for name, line in _imports(path):
            if name.split(".")[0] in ("flask", "requests"):
                bad.append(f"{path.relative_to(ROOT)}:{line} {name}")
    assert bad == []


def test_no_os_environ_outside_config() -> None:
    bad = []
    for path in _modules():
        if path.name == "config.py" or "commands" in path.parts:
            continue
        source = path.read_text()
        if "os.environ" in source or "os.getenv" in source:
            bad.append(str(path.relative_to(ROOT)))
    assert bad == []


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_imports_without_side_effects(path: Path) -> None:
    source = path.read_text()
    tree = ast.parse(source)
    for node in tree.body:
        # Module level may define things, not do things: no calls other than in assignments of
        # constants/loggers/blueprints/type helpers.
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            pytest.fail(f"{path.relative_to(ROOT)}:{node.lineno} calls a function at import time")
