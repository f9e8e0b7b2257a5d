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
    "logging",
    "times",
    "crypto",
    "migrate",
    "netguard",
    "schema",
    "extension",
    "ratelimit",
    "metrics",
}
COMPOSITION_ROOTS = {"app", "worker", "cli", "models", "commands"}

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
                and parts[2] not in ("queue", "models", "kinds")
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


# ── import circles and hidden wiring ───────────────────────────────────────────────────────────

PROJECT = ROOT.parent
PACKAGES = ("provider", "jira_simulator")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PROJECT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """Module → the project modules it imports anywhere (top level, functions, TYPE_CHECKING)."""
    modules = {
        _module_name(p): p for package in PACKAGES for p in (PROJECT / package).rglob("*.py")
    }
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for imported, _line in _imports(path):
            target = imported
            while target and target not in modules:
                target = target.rpartition(".")[0]
            # a package's own __init__ is not a dependency of its modules
            if target and target != name and not name.startswith(target + "."):
                graph[name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_circles() -> None:
    assert _cycles(_import_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_the_simulator_uses_no_production_error_types() -> None:
    bad = [
        f"{path.relative_to(PROJECT)}:{line} {name}"
        for path in (PROJECT / "jira_simulator").rglob("*.py")
        for name, line in _imports(path)
        if name.startswith("provider.") and not name.startswith("provider.connect.jwt")
    ]
    assert bad == []


def _registrations(path: Path) -> list[str]:
    """Calls that wire behaviour in from afar: listeners on a class (every session or engine of
    the process, not one the code is building) and registries filled by ``register``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        first = node.args[0] if node.args else None
        on_a_class = isinstance(first, ast.Name) and first.id[:1].isupper()
        # A socket registered with the web worker's selector (gunicorn's poller) is I/O, not a
        # hook: ``self.poller.register(sock, events, callback)``.
        on_the_poller = isinstance(func, ast.Attribute) and (
            isinstance(func.value, ast.Attribute) and func.value.attr == "poller"
        )
        if (name == "register" and not on_the_poller) or (
            name in ("listens_for", "listen") and on_a_class
        ):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}()")
    return found


def test_only_composition_roots_register_hooks() -> None:
    bad = [
        finding
        for path in _modules()
        if _layer(path) != "root"
        for finding in _registrations(path)
        # Flask's own blueprint registration is how a package offers its routes to the root
        if "register_blueprint" not in finding
    ]
    assert bad == []


def test_no_module_level_registries_are_filled_at_import() -> None:
    bad = []
    for path in _modules():
        if _layer(path) == "root":
            continue  # a composition root may assemble at import (the click command tree)
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.For | ast.If | ast.With | ast.Try) and not (
                _adds_own_routes(node) or _imports_for_annotations(node)
            ):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno} runs code at import time")
    assert bad == []


def _adds_own_routes(node: ast.stmt) -> bool:
    """A loop that only adds routes to the module's own blueprint, as decorators would."""
    return (
        isinstance(node, ast.For)
        and all(
            isinstance(stmt, ast.Expr)
            and isinstance(stmt.value, ast.Call)
            and isinstance(stmt.value.func, ast.Attribute)
            and stmt.value.func.attr == "add_url_rule"
            and isinstance(stmt.value.func.value, ast.Name)
            and stmt.value.func.value.id == "bp"
            for stmt in node.body
        )
        and not node.orelse
    )


def _imports_for_annotations(node: ast.stmt) -> bool:
    """``if TYPE_CHECKING:`` with imports only: names for annotations, nothing run at import."""
    return (
        isinstance(node, ast.If)
        and isinstance(node.test, ast.Name)
        and node.test.id == "TYPE_CHECKING"
        and all(isinstance(stmt, ast.Import | ast.ImportFrom) for stmt in node.body)
        and not node.orelse
    )


# ── bounded contexts meet at their service modules ────────────────────────────────────────────

OPS = ROOT / "ops"
CONTEXTS = {"alerts", "integrations", "incidents", "components", "workspaces"}


def _context_of(path: Path) -> str | None:
    parts = path.relative_to(OPS).parts
    return parts[0] if len(parts) > 1 and parts[0] in CONTEXTS else None


def test_a_context_reaches_another_only_through_its_service_module() -> None:
    bad = []
    for path in sorted(OPS.rglob("*.py")):
        mine = _context_of(path)
        if mine is None:
            continue  # ops/access, ops/lang and ops/sync are shared by every context
        for name, line in _imports(path):
            parts = name.split(".")
            if (
                parts[:2] == ["provider", "ops"]
                and len(parts) >= 4
                and parts[2] in CONTEXTS
                and parts[2] != mine
                and parts[3] != "service"
            ):
                bad.append(f"{path.relative_to(ROOT)}:{line} {name}")
    assert bad == []


def test_every_context_has_the_same_roles() -> None:
    for context in CONTEXTS:
        files = {p.name for p in (OPS / context).glob("*.py")}
        assert {"models.py", "schemas.py", "service.py"} <= files, context
