"""The experiment registry and the one function that runs any of them.

Each experiment is a module of this package whose `run(ctx)` is registered with `@experiment(name, title,
cpu_seconds, batched, options, shares)`; the package imports every module, so `EXPERIMENTS` holds them all, in the
lectures' order. `run_experiment` turns a run into results.json, PNG figures and a printed table.
"""
from __future__ import annotations

import logging
import platform
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, fields, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from ..display import Record
from ..errors import UserError
from ..fileio import check_output, write_json
from ..lazy import lazy_module
from ..progress import Progress
from ..registry import add
from ..tables import format_table
from ..threads import allowed_cores
from ..train.device import resolve_device, set_threads, worker_process
from .context import Context

torch = lazy_module("torch")  # every experiment registers here: `experiment run --help` lists them without torch


@dataclass(frozen=True)
class Option:
    """An experiment's own option: `mnistlab experiment run` adds it as --NAME."""

    default: Any
    help: str
    type: type = int
    choices: Any = None
    metavar: str | None = None


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    run: Callable[[Context], None]
    cpu_seconds: float  # one full run on one thread (docs/experiments.md): `all` starts the longest first
    batched: bool = False  # trains through fit_many itself: an executor cannot plan its calls, so it runs in-process
    options: dict[str, Option] = field(default_factory=dict)
    # Trainings it has in common with other experiments (settings' names): `all` runs experiments that share one
    # in the same job, one after the other, so the shared training is trained once and no job waits for another's.
    shares: tuple[str, ...] = ()


EXPERIMENTS: dict[str, Experiment] = {}  # filled by @experiment as the package imports each module


def experiment(name: str, title: str, cpu_seconds: float, batched: bool = False, options: dict[str, Option] | None = None,
               shares: tuple[str, ...] = ()):
    """Register the decorated `run(ctx)` as experiment `name`."""
    def register(run: Callable[[Context], None]) -> Callable[[Context], None]:
        add(EXPERIMENTS, name, Experiment(name, title, run, cpu_seconds, batched, options or {}, shares), "experiment")
        return run
    return register


def get(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        raise UserError(f"unknown experiment {name!r}; `mnistlab experiment list` shows: {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name]


def opening(name: str, quick: bool) -> str:
    """An experiment's first line: which one, and what it reproduces."""
    return f"experiment {name}{' (quick)' if quick else ''}: {get(name).title}"


def describe() -> list[dict]:
    return [{"name": e.name, "title": e.title} for e in EXPERIMENTS.values()]


@dataclass(frozen=True)
class Setup:
    """How any experiment runs: the lecture's size or --quick, where results go, device, seed, data, CUDA graphs."""

    quick: bool = False
    out: str | Path | None = None  # default experiments/<name>[-quick]
    device: str = "auto"
    seed: int = 0
    dataset: str = "mnist"
    data_dir: str | None = None
    capture: str = "auto"


SETUP_FIELDS = tuple(f.name for f in fields(Setup))


def settle(name: str, setup: Setup | None, given: dict) -> tuple[Setup, dict]:
    """Split keywords into Setup's fields and experiment `name`'s own options (their defaults filled in)."""
    known = get(name).options
    unknown = sorted(set(given) - set(SETUP_FIELDS) - set(known))
    if unknown:
        raise UserError(f"experiment {name}: no option {', '.join(unknown)} (its own: {', '.join(known) or 'none'})")
    setup = replace(setup or Setup(), **{k: v for k, v in given.items() if k in SETUP_FIELDS})
    return setup, {k: given.get(k, option.default) for k, option in known.items()}


def run_experiment(name: str, setup: Setup | None = None, *, say: Callable[[str], None] | None = None,
                   progress: Progress | None = None, trainer: Callable | None = None, **given) -> dict:
    """Run experiment `name`; write results.json and figures into `setup.out` (default experiments/<name>[-quick]).

    `given`: Setup's fields by keyword (quick=True, device="cpu", ...) and the experiment's own options (digit=7).
    Returns the results record plus `results_path` (a dict that Jupyter shows as its table and figures).
    `say` receives the human-readable account (default: the `mnistlab.experiments` logger, at INFO); `progress`
    draws the status line of the command; `trainer` replaces `mnistlab.fit` for every `ctx.fit` (the executors'
    replay of runs trained elsewhere, experiments.replay).
    """
    setup, options = settle(name, setup, given)
    exp = get(name)
    say = say or logging.getLogger(__name__.rpartition(".")[0]).info
    progress = progress or Progress(False)
    out = Path(setup.out) if setup.out is not None else Path("experiments") / (name + ("-quick" if setup.quick else ""))
    check_output(out)
    ctx = Context(name, setup.quick, out, resolve_device(setup.device), setup.seed, progress.printer(say), options=options,
                  dataset=setup.dataset, data_dir=setup.data_dir, capture=setup.capture, progress=progress)
    if trainer is not None:
        ctx.trainer = trainer
    ctx.say(opening(name, setup.quick))
    start, cpu = time.perf_counter(), time.process_time()
    try:
        exp.run(ctx)
    finally:
        progress.close()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    table = format_table(ctx.table)
    for line in (table, f"figures: {', '.join(ctx.figures)}", f"{seconds:.1f}s on {ctx.device.type}"):
        ctx.say(line)
    return _write_results(ctx, exp, setup, (seconds, cpu), table)


def _write_results(ctx: Context, exp: Experiment, setup: Setup, times: tuple[float, float], table: str) -> dict:
    """results.json: `seconds` wall and `cpu_seconds` of this process (every thread's), both the figures too."""
    results = {"name": exp.name, "title": exp.title, "quick": setup.quick, "seed": setup.seed, "device": ctx.device.type,
               "threads": torch.get_num_threads(), "seconds": round(times[0], 3), "cpu_seconds": round(times[1], 3),
               "reused": sum(bool(c.get("reused")) for c in ctx.configurations), "options": ctx.options,
               "capture": setup.capture,
               "capture_s": round(sum(c["settings"].get("train", {}).get("capture_s", 0.0) for c in ctx.configurations), 4),
               "dataset": setup.dataset,
               "versions": {"python": platform.python_version(), "torch": torch.__version__},
               "summary": ctx.summary, "table": ctx.table, "table_text": table, "figures": ctx.figures,
               "notes": ctx.notes, "configurations": ctx.configurations}
    path = ctx.out / "results.json"
    write_json(path, results)
    return Record({**results, "results_path": str(path)})


def _suite_job(runs: list[tuple[str, Setup, dict]], threads: int, quiet: bool, trained: str) -> list[dict]:
    """Experiments (name, setup, own options) one after the other in a worker process, their lines prefixed with
    their names (jobs print side by side); trainings identical to another experiment's are kept in and taken
    from the suite's folder `trained` (train/memo.py)."""
    from ..train import memo  # torch's models: in the suite's worker process, not for `experiment --help`

    set_threads(threads)
    worker_process()  # the experiments' trainings keep the job's count
    results = []
    for name, setup, options in runs:
        say = (lambda text, name=name: None if quiet else print(*(f"[{name}] {line}" for line in text.splitlines()),
                                                                sep="\n", flush=True))
        with memo.shared(trained):
            results.append(run_experiment(name, setup, say=say, **options))
    return results


def suite_jobs(names: list[str]) -> list[list[str]]:
    """`names` as jobs: experiments that share a training (directly or through others) in one job, longest first;
    the jobs longest first (by the sum of their experiments' `cpu_seconds`)."""
    jobs: list[list[str]] = []
    for name in sorted(names, key=lambda n: -get(n).cpu_seconds):
        linked = [job for job in jobs if any(set(get(name).shares) & set(get(other).shares) for other in job)]
        for job in linked:
            jobs.remove(job)
        jobs.append(sorted([name, *(n for job in linked for n in job)], key=lambda n: -get(n).cpu_seconds))
    return sorted(jobs, key=lambda job: -sum(get(n).cpu_seconds for n in job))


def run_suite(names: list[str], jobs: int = 1, out: str | Path | None = None, quiet: bool = False, **given) -> dict:
    """Run experiments `jobs` at a time in separate processes, longest first, each with cores // jobs torch threads;
    a training that several experiments share is trained once (train/memo.py), by the first of them in one job
    (`suite_jobs`).

    `given`: Setup's fields and any experiment's own options (each experiment gets its own). Each writes its own
    results.json (in `out`/NAME, or the default folder); returns every result and the wall time.
    """
    if jobs < 1:
        raise UserError(f"--jobs {jobs}: must be at least 1")
    setup = Setup(**{k: v for k, v in given.items() if k in SETUP_FIELDS})
    threads = max(1, len(allowed_cores()) // jobs)

    def planned(name: str) -> tuple[str, Setup, dict]:
        own = replace(setup, out=None if out is None else Path(out) / (name + ("-quick" if setup.quick else "")))
        return name, own, {k: v for k, v in given.items() if k in get(name).options}

    start = time.perf_counter()
    with (tempfile.TemporaryDirectory(prefix="mnistlab-suite-") as trained,
          ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool):
        futures = [(job, pool.submit(_suite_job, [planned(n) for n in job], threads, quiet, trained))
                   for job in suite_jobs(names)]
        results = {name: result for job, future in futures for name, result in zip(job, future.result())}
    wall = time.perf_counter() - start
    return {"experiments": [results[n] for n in names], "wall_seconds": round(wall, 3), "jobs": jobs,
            "threads_per_job": threads}
