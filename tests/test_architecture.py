"""The package imports only downward: scenario → population → model parts → results →
plotting → ensembles → report → command line (STYLE.md's layout). Imports under
``TYPE_CHECKING`` (type hints only) are ignored; every other import, inside functions too, must
point down, except the explicit lazy imports listed in ALLOWED_UP."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "povsim"

# lowest first; a module may import from its own layer or any lower one
LAYERS: list[set[str]] = [
    {"errors", "rng", "registry"},
    {"scenario"},
    {"households", "components", "lines"},
    {"population"},
    {"pathways", "budget"},
    {"shocks", "services"},
    {"exits", "results", "targets", "outputs"},
    {"model"},
    {"plotting"},
    {"ensembles"},
    {"report"},
    {"cli", "__init__"},
]

# deliberate lazy imports upward (inside a function, to break a cycle or defer a heavy import)
ALLOWED_UP = {
    ("scenario", "scenario"),  # schema.with_overrides -> loader (same layer)
    ("__init__", "ensembles"),  # povsim.compare etc. served lazily
}


def _layer(top: str) -> int:
    for i, names in enumerate(LAYERS):
        if top in names:
            return i
    raise AssertionError(f"module group {top!r} is not placed in a layer")


def _group(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """All nodes except those under ``if TYPE_CHECKING:`` (type hints only, never imported)."""
    out: list[ast.AST] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and \
                node.test.id == "TYPE_CHECKING":
            stack.extend(node.orelse)
            continue
        out.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return out


def _imports(tree: ast.AST) -> list[tuple[str, int]]:
    out = []
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "povsim" or node.module.startswith("povsim."):
                parts = node.module.split(".")
                if len(parts) > 1:
                    out.append((parts[1], node.lineno))
                else:
                    out.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            out.append((node.module.split(".")[0], node.lineno))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("povsim."):
                    out.append((alias.name.split(".")[1], node.lineno))
    return out


def test_every_module_imports_downward() -> None:
    problems = []
    for path in sorted(SRC.rglob("*.py")):
        group = _group(path)
        here = _layer(group)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for target, line in _imports(tree):
            if path.parent != SRC and target not in {g for layer in LAYERS for g in layer}:
                continue  # a relative import inside the same package
            if target not in {g for layer in LAYERS for g in layer}:
                continue
            if _layer(target) > here and (group, target) not in ALLOWED_UP:
                problems.append(f"{path.relative_to(SRC)}:{line} imports {target} "
                                f"(layer {_layer(target)} above {group}, layer {here})")
    assert not problems, "upward imports:\n" + "\n".join(problems)
