"""mnistlab's layers import one way, downward, and nothing closes a circle (docs/architecture.md).

A module's layer is its folder's (or, at the top, its own name's); scratch/figures.py sits above its folder, and
scratch/recipes.py and scratch/compare.py (the NumPy engine's bridge to train/'s recipes and PyTorch) in train/'s layer.
From the bottom: base (data/, models/, fileio, errors, progress, threads, tables, argtypes, memory, scratch/'s NumPy engine)
-> train/ -> insight (inspect/'s numbers, evaluate, robustness/) -> figures (plots/, mpl, scratch/figures) -> tools
(report/, serve/, sweep/, experiments/, export/, bench/, tensorboard, notebooks/) -> commands (cli/, and
nothing else). A module imports from its own layer or below: the library never imports `mnistlab.cli`. Between
packages nothing closes a circle either (experiments -> sweep, report -> sweep.record, never back).

Both kinds of import count: module-level ones (they run when the module is imported) and function-local ones
(they run when the function is called; they keep optional extras and heavy features out of `mnistlab --help`).
A cycle makes the import order matter (a name is missing while the other module is half-initialised).
Packages are not counted as imported by their own submodules (Python has already started the package by then),
and imports under `if TYPE_CHECKING:` never run.
"""
from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import mnistlab

PACKAGE = Path(mnistlab.__file__).parent


LAYERS = ("base", "train", "insight", "figures", "tools", "commands")
# Where each module belongs, by its dotted name under mnistlab (the longest matching prefix wins). A new top-level
# module or package needs a line here: that is the decision of its layer.
PLACES = {
    "data": "base", "models": "base", "fileio": "base", "errors": "base", "progress": "base", "threads": "base", "tables": "base",
    "scratch": "base", "display": "base", "argtypes": "base", "calibration": "base", "registry": "base", "memory": "base", "lazy": "base",
    "scratch.recipes": "train", "scratch.compare": "train",
    "train": "train",
    "inspect": "insight", "evaluate": "insight", "robustness": "insight",
    "plots": "figures", "mpl": "figures", "scratch.figures": "figures",
    "report": "tools", "serve": "tools", "sweep": "tools", "experiments": "tools", "export": "tools", "bench": "tools",
    "tensorboard": "tools", "notebooks": "tools",
    "cli": "commands",
}


def layer(module: str) -> int:
    """The index in LAYERS of a module (a dotted name such as mnistlab.train.loop)."""
    name = module.removeprefix("mnistlab").removeprefix(".")
    if not name:
        return LAYERS.index("commands")  # the package itself is the public facade: it may name anything
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in PLACES:
            return LAYERS.index(PLACES[".".join(parts[:n])])
    raise AssertionError(f"{module} has no layer: add its top-level name to PLACES in tests/test_import_graph.py")


def component(module: str) -> str:
    """What circles are checked between: a module's top-level package (or the top-level module itself)."""
    return ".".join(module.split(".")[:2])


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


def upward(graph: dict[str, set[str]]) -> list[str]:
    return [f"{a} ({LAYERS[layer(a)]}) imports {b} ({LAYERS[layer(b)]})"
            for a in sorted(graph) for b in sorted(graph[a]) if layer(b) > layer(a)]


def components(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    merged: dict[str, set[str]] = {}
    for a, targets in graph.items():
        merged.setdefault(component(a), set()).update(component(b) for b in targets if component(b) != component(a))
    for targets in list(merged.values()):
        for b in targets:
            merged.setdefault(b, set())
    return merged


def test_no_import_cycles_among_mnistlab_modules():
    graph = import_graph()
    assert len(graph) > 50 and "mnistlab.train.config" in graph["mnistlab.train.recipes"]  # the graph is real
    assert cycles(graph) == [], "import cycles: " + "; ".join(" -> ".join(c) for c in cycles(graph))


def test_no_cycles_even_through_function_local_imports():
    graph = import_graph(lazy=True)
    assert "mnistlab.plots" in graph["mnistlab.cli.inspect"]  # a function-local import: the graph sees it
    assert cycles(graph) == [], "import cycles: " + "; ".join(" -> ".join(c) for c in cycles(graph))


def test_every_import_runs_downward_or_within_its_layer():
    for lazy in (False, True):
        found = upward(import_graph(lazy))
        assert found == [], f"{len(found)} upward import(s){' (function-local included)' if lazy else ''}:\n" + "\n".join(found)


def test_no_circles_between_packages_and_commands():
    graph = components(import_graph(lazy=True))
    assert "mnistlab.sweep" in graph["mnistlab.experiments"]  # experiments run their grids on the sweep executors
    assert cycles(graph) == [], "circles between packages: " + "; ".join(" -> ".join(c) for c in cycles(graph))


def test_the_layer_check_finds_an_upward_import():
    assert layer("mnistlab.data.idx") < layer("mnistlab.train.loop") < layer("mnistlab.inspect.numbers")
    assert layer("mnistlab.inspect.numbers") < layer("mnistlab.plots") < layer("mnistlab.sweep.runner") < layer("mnistlab.cli.inspect")
    assert layer("mnistlab.scratch.patches") == 0 and layer("mnistlab.scratch.figures") == LAYERS.index("figures")
    assert upward({"mnistlab.plots": {"mnistlab.inspect.numbers"}, "mnistlab.inspect.numbers": {"mnistlab.plots"}}) == [
        "mnistlab.inspect.numbers (insight) imports mnistlab.plots (figures)"]
    assert component("mnistlab.cli.inspect") != component("mnistlab.inspect.numbers") == "mnistlab.inspect"
    assert layer("mnistlab.train.cli") == layer("mnistlab.train.loop")  # by folder: no name makes a module a command


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_every_module_imports():
    """The graph above reads source; this imports every module, so a name that moved shows up here first."""
    failed = {}
    for info in pkgutil.walk_packages(mnistlab.__path__, "mnistlab."):
        try:
            importlib.import_module(info.name)
        except ImportError as exc:
            if not (isinstance(exc, ModuleNotFoundError) and exc.name and not exc.name.startswith("mnistlab")):
                failed[info.name] = str(exc)  # an optional extra that is not installed is not a failure
    assert failed == {}


def draw_layers(path: str) -> None:
    """docs/architecture.md's picture: every package and top-level module in its layer (bottom: base), and every
    import between packages of different layers as a line, all read from the graph these tests check."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    graph = components(import_graph(lazy=True))
    rows = {i: sorted(c for c in graph if layer(c) == i) for i in range(len(LAYERS))}
    width = max(len(r) for r in rows.values())
    where = {c: ((k + 0.5) * width / len(rows[i]), i) for i, r in rows.items() for k, c in enumerate(r)}
    fig, ax = plt.subplots(figsize=(13, 6.5))
    edges = [(a, b) for a in graph for b in graph[a] if layer(a) != layer(b)]
    for a, b in edges:
        (xa, ya), (xb, yb) = where[a], where[b]
        ax.annotate("", (xb, yb + 0.18), (xa, ya - 0.18), arrowprops=dict(arrowstyle="-|>", color="#9ab", lw=0.6, alpha=0.6))
    for c, (x, y) in where.items():
        short = c.removeprefix("mnistlab").removeprefix(".")
        name = "__init__.py (the facade)" if not short else short + ("/" if (PACKAGE / short).is_dir() else ".py")
        ax.text(x, y, name, ha="center", va="center", fontsize=8.5,
                bbox=dict(boxstyle="round,pad=0.3", fc="#e8f0f8" if y else "#eef5e8", ec="#567"))
    for i, name in enumerate(LAYERS):
        ax.text(-0.6, i, name, ha="right", va="center", fontsize=11, weight="bold")
        ax.axhline(i - 0.5, color="#ddd", lw=0.8)
    ax.set_xlim(-2.2, width + 0.2)
    ax.set_ylim(-0.6, len(LAYERS) - 0.4)
    ax.axis("off")
    upward_count = len(upward(import_graph(lazy=True)))
    ax.set_title(f"mnistlab's layers, from tests/test_import_graph.py: {len(edges)} imports between packages of "
                 f"different layers, each an arrow (all point down); {upward_count} upward, "
                 f"{len(cycles(graph))} circles", fontsize=10)
    fig.savefig(path, dpi=90, bbox_inches="tight")


if __name__ == "__main__":  # python tests/test_import_graph.py docs/img/architecture/layers.png
    import sys

    draw_layers(sys.argv[1])
