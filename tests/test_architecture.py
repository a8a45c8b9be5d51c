"""The package imports only downward: scenario → population → money → the components' context →
components → the engine's layers → model → plotting → ensembles → calibration → analysis → report
→ command line and explorer (STYLE.md's layout). Every import counts — inside functions and under
``TYPE_CHECKING`` (type hints) too — and must point down, except the explicit lazy imports listed
in ALLOWED_UP; and no two modules import each other, directly or through others."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "povsim"

# lowest first; a module may import from its own layer or any lower one
LAYERS: list[set[str]] = [
    {"errors", "rng", "registry", "version", "provenance", "library", "progress", "kernels",
     "allocator"},
    {"scenario"},
    {"households", "lines"},
    {"population"},
    {"budget"},
    {"context", "components"},
    {"pathways"},
    {"shocks", "services"},
    {"exits", "results", "targets", "outputs", "summary"},
    {"planning", "assessment"},
    {"model"},
    {"plotting"},
    {"ensembles"},
    {"calibration"},
    {"analysis"},
    {"report"},
    {"cli", "commands", "testing", "__init__", "explore"},
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


def _imports(tree: ast.AST) -> list[tuple[str, int]]:
    out = []
    for node in ast.walk(tree):
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


# module pairs allowed to import each other (a lazy import inside a function, documented there)
ALLOWED_CYCLES: set[frozenset[str]] = {
    frozenset({"povsim.scenario.schema", "povsim.scenario.loader"}),
    # both lazily: compare's report prints attribution tables, attribution reuses compare's
    # number formatting and runs compare (ensembles/, not the engine)
    frozenset({"povsim.ensembles.attribution", "povsim.ensembles.compare"}),
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _module_graph() -> dict[str, set[str]]:
    """Module → the povsim modules it imports (every import, TYPE_CHECKING ones too)."""
    modules = {_module_name(p): p for p in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps: set[str] = set()
        pkg = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = ".".join(pkg.split(".")[: len(pkg.split(".")) - node.level + 1])
                    mod = f"{base}.{node.module}" if node.module else base
                else:
                    mod = node.module or ""
                if not mod.startswith("povsim"):
                    continue
                for alias in node.names:
                    sub = f"{mod}.{alias.name}"
                    deps.add(sub if sub in modules else mod)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.startswith("povsim"))
        graph[name] = {d for d in deps if d in modules and d != name}
    return graph


def test_no_import_cycles() -> None:
    """No module imports itself through others (type-checking imports included)."""
    graph = _module_graph()
    cycles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cyc = stack[stack.index(dep):]
                if frozenset(cyc) not in ALLOWED_CYCLES:
                    cycles.append(" -> ".join([*cyc, dep]))
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_no_component_imports_the_model() -> None:
    """Components (pathways, shocks, services) never import povsim.model, not even for types."""
    graph = _module_graph()
    components = [m for m in graph if m.startswith(("povsim.pathways", "povsim.shocks"))]
    components += ["povsim.services", "povsim.components", "povsim.context"]
    bad = [m for m in components if "povsim.model" in graph[m]]
    assert not bad, f"modules importing povsim.model: {bad}"
