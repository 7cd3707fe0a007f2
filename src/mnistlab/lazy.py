"""Package namespaces whose public names load on first use.

A package that imported its modules eagerly would make `import mnistlab.train.names` cost torch: the command line
builds its parser from such torch-free modules and must say something before torch has loaded.
"""
from __future__ import annotations

from collections.abc import Callable
from importlib import import_module


def lazy_names(package: str, where: dict[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for `package`: each name in `where` comes from its module (relative, such as
    '.loop', or absolute) when it is first asked for."""
    def __getattr__(name: str) -> object:
        if name in where:
            return getattr(import_module(where[name], package), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*vars(import_module(package)), *where})

    return __getattr__, __dir__
