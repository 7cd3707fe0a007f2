"""The experiment registry and the one function that runs any of them.

Each experiment is a module `mnistlab.experiments.<name with underscores>` with
a one-line `TITLE` and `run(ctx)`; this module turns a run into results.json,
PNG figures and a printed table.
"""
from __future__ import annotations

import importlib
import logging
import platform
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import torch

from ..display import Record
from ..errors import UserError
from ..fileio import check_output, write_json
from ..progress import Progress
from ..tables import format_table
from ..train.device import resolve_device
from .context import Context

EXPERIMENTS = ("linear-relu-conv", "epochs", "conv-layers", "softmax", "binarized", "normalization",
               "weight-histograms", "breadth-depth", "optimizers", "scrambled", "shifted", "missing-class")
# CPU seconds of each full run (one thread, docs/experiments.md): the suite starts the longest first, so the
# last job to finish is a short one.
CPU_SECONDS = {"linear-relu-conv": 172, "epochs": 189, "conv-layers": 230, "softmax": 43, "binarized": 42,
               "normalization": 63, "weight-histograms": 37, "breadth-depth": 360, "optimizers": 302, "scrambled": 103,
               "shifted": 55, "missing-class": 19}


def module(name: str) -> ModuleType:
    if name not in EXPERIMENTS:
        raise UserError(f"unknown experiment {name!r}; `mnistlab experiment list` shows: {', '.join(EXPERIMENTS)}")
    return importlib.import_module(f"{__package__}.{name.replace('-', '_')}")


def describe() -> list[dict]:
    return [{"name": name, "title": module(name).TITLE} for name in EXPERIMENTS]


def run_experiment(name: str, quick: bool = False, out: str | Path | None = None, device: str = "auto", seed: int = 0,
                   say: Callable[[str], None] | None = None, dataset: str = "mnist", data_dir: str | None = None,
                   capture: str = "auto", progress: Progress | None = None, trainer: Callable | None = None,
                   **options) -> dict:
    """Run experiment `name`; write results.json and figures into `out` (default experiments/<name>[-quick]).

    Returns the results record plus `results_path` (a dict that Jupyter shows as its table and figures);
    `options` are experiment-specific (e.g. digit=7).
    `say` receives the human-readable account (default: the `mnistlab.experiments` logger, at INFO);
    `progress` draws the status line of the command; `trainer` replaces `mnistlab.fit` for every `ctx.fit`
    (the executors' replay of runs trained elsewhere, mnistlab.experiments.replay).
    """
    say = say or logging.getLogger(__name__.rpartition(".")[0]).info
    progress = progress or Progress(False)
    mod = module(name)
    out = Path(out) if out is not None else Path("experiments") / (name + ("-quick" if quick else ""))
    check_output(out)
    ctx = Context(name, quick, out, resolve_device(device), seed, progress.printer(say), options=options, dataset=dataset,
                  data_dir=data_dir, capture=capture, progress=progress)
    if trainer is not None:
        ctx.trainer = trainer
    ctx.say(f"experiment {name}{' (quick)' if quick else ''}: {mod.TITLE}")
    start = time.perf_counter()
    try:
        mod.run(ctx)
    finally:
        progress.close()
    seconds = time.perf_counter() - start
    table = format_table(ctx.table)
    for line in (table, f"figures: {', '.join(ctx.figures)}", f"{seconds:.1f}s on {ctx.device.type}"):
        ctx.say(line)
    results = {"name": name, "title": mod.TITLE, "quick": quick, "seed": seed, "device": ctx.device.type,
               "threads": torch.get_num_threads(), "seconds": round(seconds, 3), "options": options, "capture": capture,
               "capture_s": round(sum(c["settings"].get("train", {}).get("capture_s", 0.0) for c in ctx.configurations), 4),
               "dataset": dataset,
               "versions": {"python": platform.python_version(), "torch": torch.__version__},
               "summary": ctx.summary, "table": ctx.table, "table_text": table, "figures": ctx.figures,
               "notes": ctx.notes, "configurations": ctx.configurations}
    path = out / "results.json"
    write_json(path, results)
    return Record({**results, "results_path": str(path)})


def _suite_job(name: str, threads: int, kwargs: dict) -> dict:
    """One experiment in a worker process, its lines prefixed with its name (jobs print side by side)."""
    from ..train.device import set_threads

    set_threads(threads)
    quiet = kwargs.pop("quiet")
    if name != "missing-class":  # the one experiment-specific option
        kwargs.pop("digit", None)
    say = (lambda text: None) if quiet else (lambda text: print(*(f"[{name}] {line}" for line in text.splitlines()),
                                                              sep="\n", flush=True))
    return run_experiment(name, say=say, **kwargs)


def run_suite(names: list[str], jobs: int = 1, out: str | Path | None = None, quiet: bool = False, **kwargs) -> dict:
    """Run experiments `jobs` at a time in separate processes, longest first, each with cores // jobs torch threads.

    Each writes its own results.json (in `out`/NAME, or the default folder); returns every result and the wall time.
    """
    import os
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    if jobs < 1:
        raise UserError(f"--jobs {jobs}: must be at least 1")
    for name in names:
        module(name)
    order = sorted(names, key=lambda n: -CPU_SECONDS.get(n, 0))
    threads = max(1, (os.cpu_count() or 1) // jobs)
    quick = kwargs.get("quick", False)
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
        futures = {name: pool.submit(_suite_job, name, threads, {
            **kwargs, "quiet": quiet,
            "out": None if out is None else Path(out) / (name + ("-quick" if quick else ""))}) for name in order}
        results = {name: futures[name].result() for name in order}
    wall = time.perf_counter() - start
    return {"experiments": [results[n] for n in names], "wall_seconds": round(wall, 3), "jobs": jobs,
            "threads_per_job": threads}
