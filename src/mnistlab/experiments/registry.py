"""The experiment registry and the one function that runs any of them.

Each experiment is a module `mnistlab.experiments.<name with underscores>` with
a one-line `TITLE` and `run(ctx)`; this module turns a run into results.json,
PNG figures and a printed table.
"""
from __future__ import annotations

import importlib
import platform
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import torch

from ..errors import UserError
from ..fileio import write_json
from ..train.device import resolve_device
from .common import Context, format_table

EXPERIMENTS = ("linear-relu-conv", "epochs", "conv-layers", "softmax", "binarized", "normalization",
               "weight-histograms", "breadth-depth", "optimizers", "scrambled", "shifted", "missing-class")


def module(name: str) -> ModuleType:
    if name not in EXPERIMENTS:
        raise UserError(f"unknown experiment {name!r}; `mnistlab experiment list` shows: {', '.join(EXPERIMENTS)}")
    return importlib.import_module(f"{__package__}.{name.replace('-', '_')}")


def describe() -> list[dict]:
    return [{"name": name, "title": module(name).TITLE} for name in EXPERIMENTS]


def run_experiment(name: str, quick: bool = False, out: str | Path | None = None, device: str = "auto", seed: int = 0,
                   say: Callable[[str], None] = print, dataset: str = "mnist", data_dir: str | None = None,
                   trainer: Callable | None = None, **options) -> dict:
    """Run experiment `name`; write results.json and figures into `out` (default experiments/<name>[-quick]).

    Returns the results record plus `results_path`; `options` are experiment-specific (e.g. digit=7); `trainer`
    replaces `mnistlab.fit` for every `ctx.fit` (the executors' replay of runs trained elsewhere).
    """
    mod = module(name)
    out = Path(out) if out is not None else Path("experiments") / (name + ("-quick" if quick else ""))
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a directory; choose another path")
    ctx = Context(name, quick, out, resolve_device(device), seed, say, options=options, dataset=dataset, data_dir=data_dir)
    if trainer is not None:  # an executor's stand-in for `fit` (mnistlab.sweep.experiments)
        ctx.trainer = trainer
    say(f"experiment {name}{' (quick)' if quick else ''}: {mod.TITLE}")
    start = time.perf_counter()
    mod.run(ctx)
    seconds = time.perf_counter() - start
    table = format_table(ctx.table)
    for line in (table, f"figures: {', '.join(ctx.figures)}", f"{seconds:.1f}s on {ctx.device.type}"):
        say(line)
    results = {"name": name, "title": mod.TITLE, "quick": quick, "seed": seed, "device": ctx.device.type,
               "threads": torch.get_num_threads(), "seconds": round(seconds, 3), "options": options,
               "dataset": dataset,
               "versions": {"python": platform.python_version(), "torch": torch.__version__},
               "summary": ctx.summary, "table": ctx.table, "table_text": table, "figures": ctx.figures,
               "notes": ctx.notes, "configurations": ctx.configurations}
    path = out / "results.json"
    write_json(path, results)
    return {**results, "results_path": str(path)}
