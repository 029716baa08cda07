"""The package's layout is its architecture: wings in folders, imports running one way.

Each wing may import from the wings listed before it, never from one listed after it, and no two
modules import each other, directly or round a longer circle. Read from the source (AST), so a
lazy import inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import initconv

PACKAGE = Path(initconv.__file__).resolve().parent
# Bottom to top: a wing imports only from itself and the wings before it.
WINGS = (
    "_validate",
    "_maths",
    "_activations",
    "_meanfield",
    "_inference",
    "_schemes",
    "_layers",
    "_model",
    "diagnostics",
    "testing",
    "_cli",
    "__init__",
    "__main__",
)


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _wing(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports() -> dict[str, set[str]]:
    """Every initconv module and the initconv modules it imports."""
    modules = {_module(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            found.update(t for t in targets if t in modules and t != name and t != "initconv")
        graph[name] = found
    return graph


def test_at_most_six_modules_sit_beside_the_wings() -> None:
    flat = sorted(
        path.name
        for path in PACKAGE.glob("*.py")
        if path.name not in ("__init__.py", "__main__.py")
    )
    wings = sorted(path.name for path in PACKAGE.iterdir() if (path / "__init__.py").exists())
    assert len(flat) <= 6, flat
    assert len(wings) >= 5, wings


def test_every_module_belongs_to_a_wing_in_the_order() -> None:
    unknown = sorted(m for m in _imports() if _wing(m) not in WINGS)
    assert not unknown, f"add these wings to WINGS, in their place: {unknown}"


def test_no_wing_imports_a_wing_above_it() -> None:
    upward = [
        f"{module} -> {target}"
        for module, targets in _imports().items()
        for target in targets
        if WINGS.index(_wing(target)) > WINGS.index(_wing(module))
    ]
    assert not upward, upward


def test_no_module_imports_itself_round_a_circle() -> None:
    graph = _imports()
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> list[str] | None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                return [*path, module, target]
            if target not in state and (circle := visit(target, [*path, module])):
                return circle
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            circle = visit(module, [])
            assert circle is None, " -> ".join(circle or [])
