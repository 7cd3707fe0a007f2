"""Where trials run: the `Executor` protocol and the registry of executors, each with its own options.

An executor module registers its class with `@executor(name, Options)`, where `Options` is a dataclass whose
fields are that executor's own command-line flags. `--executor`'s choices and those flags derive from the
registry, and the chosen executor gets its options whole (`ExecutorSpec`): the layers in between carry one
value and never name an executor's options. The package imports every executor module (sweep/__init__.py).
"""
from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import UserError
from ..registry import add
from ..threads import AUTO
from .search import ASHA

if TYPE_CHECKING:  # the tasks' module loads torch: not for building the parser
    from .trial import Task


class Executor(Protocol):
    """Runs tasks (sweep trials, or an experiment's planned `fit` jobs) and reports each record as it ends.

    Each task is a `trial.Task` (Trial, Batch or FitJob); `trial.run_task(task, Prepared(data, ...), out, device)`
    runs any of them where the executor puts it and returns its records, so an executor only places tasks, ships
    the data (`data`, and an experiment's `splits` by key) and passes the records on."""

    name: str
    jobs: int  # trials that run at once: the search asks for this many at a time

    def run(self, tasks: list[Task], on_record: Callable[[dict], None], asha: ASHA | None = None,
            splits: dict | None = None) -> None: ...

    def info(self) -> dict: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Kind:
    name: str
    cls: Callable[..., Executor]  # cls(data, out, device, options)
    options: type  # a dataclass; each field's metadata holds its "help" and its command-line "type"


EXECUTORS: dict[str, Kind] = {}


def executor(name: str, options: type):
    """Register an executor class under `name`, with its options dataclass."""
    def register(cls: type) -> type:
        cls.name = name
        add(EXECUTORS, name, Kind(name, cls, options), "executor")
        return cls
    return register


def get(name: str) -> Kind:
    if name not in EXECUTORS:
        raise UserError(f"--executor {name!r}: choose {' or '.join(EXECUTORS)}")
    return EXECUTORS[name]


@dataclass(frozen=True)
class ExecutorSpec:
    """Which executor, and its own options (an instance of its Options dataclass; None: the defaults)."""

    name: str = "local"
    options: Any = None

    @classmethod
    def of(cls, name: str = "local", **given) -> ExecutorSpec:
        """From keywords: any executor's option names; the chosen executor's are kept, None means its default."""
        kind = get(name)
        unknown = set(given) - {f.name for k in EXECUTORS.values() for f in fields(k.options)}
        if unknown:
            raise TypeError(f"no executor has the option(s) {', '.join(sorted(unknown))}")
        own = {f.name for f in fields(kind.options)}
        return cls(name, kind.options(**{k: v for k, v in given.items() if k in own and v is not None}))


def check_executor(spec: ExecutorSpec) -> None:
    """Refuse, before any work, what the chosen executor can tell is wrong from its options alone (`cls.check`)."""
    kind = get(spec.name)
    check = getattr(kind.cls, "check", None)
    if check is not None:
        check(spec.options if spec.options is not None else kind.options())


def make_executor(spec: ExecutorSpec, data: dict, out: Path | None, device: str) -> Executor:
    """The executor `spec` names, for the data set `data` (dataset, data_dir, val, train_size), saving runs in `out`."""
    kind = get(spec.name)
    return kind.cls(data, out, device, spec.options if spec.options is not None else kind.options())


def add_executor_options(parser: argparse.ArgumentParser, default: str | None, help: str) -> None:
    """--executor and every executor's own flags (a flag the command already has keeps the command's meaning)."""
    parser.add_argument("--executor", default=default, choices=tuple(EXECUTORS), help=help)
    for kind in EXECUTORS.values():
        for f in fields(kind.options):
            flag = "--" + f.name.replace("_", "-")
            if flag not in parser._option_string_actions:
                default_text = "" if f.default is None else f" (default: {f.default:g})"
                parser.add_argument(flag, type=f.metadata["type"], default=None,
                                    help=f"{kind.name}: {f.metadata['help']}{default_text}")


def executor_spec(args: argparse.Namespace) -> ExecutorSpec | None:
    """The executor the parsed arguments choose, with its options; None without --executor."""
    if not args.executor:
        return None
    kind = get(args.executor)
    # --threads auto (every command's default) leaves the executor its own share of the cores per trial
    return ExecutorSpec(kind.name, kind.options(**{f.name: getattr(args, f.name) for f in fields(kind.options)
                                                   if getattr(args, f.name, None) not in (None, AUTO)}))
