"""The shape rules of docs/architecture.md, over every module in src/: short functions, small signatures, imports
at the top.

- No function is over 60 lines (decorators and docstring included).
- No public function or method takes more than 8 parameters (self, cls, *args and **kwargs not counted):
  options travel in dataclasses passed whole (SweepSpec, ExecutorSpec, Setup, BenchSpec, TrainJob, Choices).
- A function-local import is for an optional extra or a heavy module the function's caller may never need,
  and says so: a comment on the line before the block of imports, or at the end of one of its lines.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import mnistlab

PACKAGE = Path(mnistlab.__file__).parent
MAX_LINES, MAX_PARAMS = 60, 8


def functions():
    for path in sorted(PACKAGE.rglob("*.py")):
        source = path.read_text()
        tree = ast.parse(source)
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                owner = parents.get(node)
                name = f"{owner.name}.{node.name}" if isinstance(owner, ast.ClassDef) else node.name
                yield f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {name}", node, source.splitlines()


def length(node: ast.FunctionDef) -> int:
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    return node.end_lineno - first + 1


def parameters(node: ast.FunctionDef) -> int:
    a = node.args
    names = [p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs)]
    return len([n for n in names if n not in ("self", "cls")])


def public(name: str) -> bool:
    return all(not part.startswith("_") or part == "__init__" for part in name.split("."))


def bodies(stmts: list[ast.stmt]):
    """Every list of statements in a function body, nested functions and classes left to themselves."""
    yield stmts
    for stmt in stmts:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                yield from bodies(inner)
        for part in (*getattr(stmt, "handlers", ()), *getattr(stmt, "cases", ())):
            yield from bodies(part.body)


def local_import_blocks(node: ast.FunctionDef) -> list[list[ast.stmt]]:
    """Runs of consecutive import statements inside `node`."""
    blocks = []
    for stmts in bodies(node.body):
        run: list[ast.stmt] = []
        for stmt in [*stmts, None]:
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                run.append(stmt)
            elif run:
                blocks.append(run)
                run = []
    return blocks


def has_reason(block: list[ast.stmt], lines: list[str]) -> bool:
    above = lines[block[0].lineno - 2].strip() if block[0].lineno > 1 else ""
    trailing = any("#" in lines[i - 1] for s in block for i in range(s.lineno, s.end_lineno + 1))
    return above.startswith("#") or trailing


def test_no_function_is_over_60_lines():
    long = [f"{where} ({length(node)} lines)" for where, node, _ in functions() if length(node) > MAX_LINES]
    assert long == [], "functions over 60 lines:\n" + "\n".join(long)


def test_no_public_signature_is_over_8_parameters():
    wide = [f"{where} ({parameters(node)} parameters)" for where, node, _ in functions()
            if public(where.split()[-1]) and parameters(node) > MAX_PARAMS]
    assert wide == [], "public functions over 8 parameters (group options in a dataclass):\n" + "\n".join(wide)


def test_every_function_local_import_says_why():
    silent = [f"{where}: {lines[block[0].lineno - 1].strip()}" for where, node, lines in functions()
              for block in local_import_blocks(node) if not has_reason(block, lines)]
    assert silent == [], ("function-local imports without a reason (move them to the top, or add a one-line "
                          "comment: an optional extra, or a heavy module the caller may never need):\n" + "\n".join(silent))


def test_the_checks_see_what_they_check():
    tree = ast.parse("def f(a, b, c, d, e, f, g, h, i):\n    import os\n    return 1\n"
                     "def g():\n    # needs the optional extra\n    import ray\n")
    f, g = tree.body
    assert parameters(f) == 9 and length(f) == 3 and public("Engine.__init__") and not public("_helper")
    lines = ["def f(a, b, c, d, e, f, g, h, i):", "    import os", "    return 1", "def g():",
             "    # needs the optional extra", "    import ray"]
    assert not has_reason(local_import_blocks(f)[0], lines) and has_reason(local_import_blocks(g)[0], lines)
    assert any(re.search(r"cli/train\.py:\d+ register", where) for where, _, _ in functions())
