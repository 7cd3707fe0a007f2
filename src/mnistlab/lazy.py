"""Package namespaces whose public names load on first use, and modules (torch) that load on first use.

A package that imported its modules eagerly would make `import mnistlab.train.names` cost torch: the command line
builds its parser from such torch-free modules and must say something before torch has loaded. A registry whose
entries are torch functions (robust augmentations, corruptions) is declared where they are defined, so `--help`
reads it: such a module binds `torch = lazy_module("torch")`, and torch loads when an entry first runs.
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


class LazyModule:
    """Stands for a module until an attribute is first asked for, then for the imported module itself.

    Only for modules that use it inside functions: a module-level `torch.float32` or `class X(nn.Module)` would
    import it at once. Nothing is cached here, so a test's monkeypatch of `torch.cuda.is_available` is seen."""

    def __init__(self, name: str) -> None:
        self.__name = name

    def __getattr__(self, attr: str) -> object:
        return getattr(import_module(self.__name), attr)

    def __repr__(self) -> str:
        return f"<module {self.__name!r}, imported on first use>"


def lazy_module(name: str) -> ModuleType:
    """`name`, imported when one of its attributes is first used (see LazyModule)."""
    return LazyModule(name)  # type: ignore[return-value]
