"""No import cycles among mnistlab's modules at import time.

A cycle makes the import order matter (a name is missing when the other module is half-initialised) and
ties two modules that should be layered: data -> models -> train -> run record -> inspect / plots /
report / serve / experiments / scratch -> clitools / cli (docs/architecture.md).

Module-level imports run when the module is imported: among them no cycle at all. Imports inside functions
run when the function is called, after every module is complete, and are allowed where they keep a light
import light; the second test checks that they close no cycle either (the old cli.py <-> inspect/commands.py
cycle ran through one). Today they are:
- the command modules (cli.py, bench.py's cmd_bench, experiments/cli.py, inspect/commands.py, scratch/cli.py,
  serve/cli.py) import the feature behind each command in its handler, so `mnistlab --help` and one
  command do not load torch, matplotlib and every other feature;
- clitools.py imports data.sources, train.device and train.config when a parser adds --dataset, --device
  or --capture;
- report.py, serve/app.py and experiments/context.py import plots / inspect / mpl when drawing, so
  matplotlib loads on the first figure only;
- train/recipes.py imports the training loop and the device helpers inside train_recipe.
Packages are not counted as imported by their own submodules (Python has already started the package by
then), and imports under `if TYPE_CHECKING:` never run.
"""
from __future__ import annotations

import ast
from pathlib import Path

import mnistlab

PACKAGE = Path(mnistlab.__file__).parent


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_in(node: ast.AST, lazy: bool = False) -> list[ast.Import | ast.ImportFrom]:
    """Imports that run on import (top level, top-level if/try/with/class blocks), and with `lazy` those inside
    functions too; never those under `if TYPE_CHECKING:`."""
    found = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            found.append(child)
        elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
            found += imports_in(ast.Module(body=child.orelse, type_ignores=[]), lazy)
        elif lazy or not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            found += imports_in(child, lazy)
    return found


def import_graph(lazy: bool = False) -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in imports_in(ast.parse(path.read_text(), str(path)), lazy):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
                continue
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            targets |= {f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names}
        graph[name] = {t for t in targets if t in modules and t != name and not name.startswith(t + ".")}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One example cycle per strongly connected group of modules (depth-first search, three colours)."""
    state, stack, found = {}, [], []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                found.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_no_import_cycles_among_mnistlab_modules():
    graph = import_graph()
    assert len(graph) > 50 and "mnistlab.train.loop" in graph["mnistlab.experiments.context"]  # the graph is real
    assert cycles(graph) == [], "import cycles: " + "; ".join(" -> ".join(c) for c in cycles(graph))


def test_no_cycles_even_through_function_local_imports():
    graph = import_graph(lazy=True)
    assert "mnistlab.inspect.commands" in graph["mnistlab.cli"]
    assert cycles(graph) == [], "import cycles: " + "; ".join(" -> ".join(c) for c in cycles(graph))


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
