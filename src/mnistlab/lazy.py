"""Package namespaces whose public names load on first use.

A package that imported its modules eagerly would make `import mnistlab.train.names` cost torch: the command line
builds its parser from such torch-free modules and must say something before torch has loaded.
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from importlib import import_module
from types import ModuleType


class LazyPackage(ModuleType):
    """A package whose public name may be its submodule's too (robustness.score, inspect.numbers): importing the
    submodule binds it on the package, which would hide the function the package names, as eager imports never did."""

    def __setattr__(self, name: str, value: object) -> None:
        if isinstance(value, ModuleType) and value.__name__ == f"{self.__name__}.{name}" and name in self.__lazy__:
            return  # the submodule stays in sys.modules; the name keeps meaning the function
        super().__setattr__(name, value)


def lazy_names(package: str, where: dict[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for `package`: each name in `where` comes from its module (relative, such as
    '.loop', or absolute) when it is first asked for."""
    def __getattr__(name: str) -> object:
        if name in where:
            return getattr(import_module(where[name], package), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*vars(import_module(package)), *where})

    module = sys.modules[package]
    module.__lazy__ = where
    module.__class__ = LazyPackage
    return __getattr__, __dir__
