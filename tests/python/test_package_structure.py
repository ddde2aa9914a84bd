"""The package is a one-way stack: no import cycles (module-level or inside functions), and
only the command-line adapters in ``segrec/cli/`` know about argparse."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "segrec"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported_names(path: Path, name: str, known: set[str] = frozenset()) -> set[str]:
    """Every module name ``path`` imports, anywhere in the file (functions included):
    ``from a import b`` names ``a.b`` when that is one of the ``known`` modules, else ``a``."""
    is_package = path.name == "__init__.py"
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against this module's package
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            submodules = {f"{source}.{alias.name}" for alias in node.names} & known
            names |= submodules
            if len(submodules) < len(node.names):
                names.add(source)
    return names


def import_graph() -> dict[str, set[str]]:
    """``{module: modules of the package it makes Python import}``. Importing ``a.b.c`` runs
    ``a/__init__`` and ``a/b/__init__`` too, except the packages that hold the importer
    (they are already being imported); the top-level ``segrec/__init__`` imports nothing."""
    known = modules()
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        targets: set[str] = set()
        for imported in imported_names(path, name, set(known)):
            if imported not in known:
                continue
            parts = imported.split(".")
            for depth in range(2, len(parts) + 1):
                target = ".".join(parts[:depth])
                is_own_package = name == target or name.startswith(target + ".")
                if target in known and not (is_own_package and target != imported):
                    targets.add(target)
        graph[name] = targets - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path that ends where it starts, or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_sees_a_cycle_and_a_stack():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_import_graph_counts_function_level_imports_and_parent_packages():
    graph = import_graph()
    assert "segrec.exports" in graph["segrec.run"]  # imported inside run.write_outputs
    # importing segrec.ingest.common runs segrec/ingest/__init__.py first
    assert {"segrec.ingest", "segrec.ingest.common"} <= graph["segrec.cli.ingest"]
    # a module inside a package does not re-import the package that holds it
    assert "segrec.ingest" not in graph["segrec.ingest.cdnow"]


def test_the_package_has_no_import_cycle():
    assert find_cycle(import_graph()) is None


def test_only_cli_adapters_import_argparse():
    offenders = [
        name for name, path in modules().items()
        if not (name == "segrec.cli" or name.startswith("segrec.cli."))
        and any(imported == "argparse" or imported.startswith("argparse.")
                for imported in imported_names(path, name))
    ]
    assert offenders == []


# The layers of the package, bottom first (segrec/__init__.py describes them): a module may
# import its own layer and the layers below it, never one above.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "io", "versioning", "schemas", "warehouse", "contract", "rawio", "dbt_plugin", "engine",
     "spark_submission", "overlap"),
    ("segmentation", "recommend", "clv", "experiments", "bandits", "generate", "ingest"),
    ("exports", "runlog", "report", "results", "run", "summary", "docs", "serve", "model_fits"),
    ("cli",),
)


def layer_of(module: str) -> int | None:
    top = module.split(".")[1] if "." in module else None
    return next((i for i, names in enumerate(LAYERS) if top in names), None)


def test_every_module_has_a_layer_and_imports_only_downwards():
    graph = import_graph()
    unplaced = sorted(name for name in graph if name != "segrec" and layer_of(name) is None)
    assert unplaced == []
    upward = sorted(
        f"{name} -> {target}" for name, targets in graph.items() for target in targets
        if name != "segrec" and layer_of(target) > layer_of(name)
    )
    assert upward == []
