"""The local executor: worker processes on this machine, each with its share of the cores.

Each worker loads the data once and then takes tasks (one trial, or a group of FFN trials
that `fit_many` trains as one program) over a pipe. With early stopping a worker asks the
parent after every epoch whether to go on, so ASHA sees every trial's rungs in one place.
A worker that dies takes only its own task with it: that task is recorded as failed and a
fresh worker takes the next one.
"""
from __future__ import annotations

import multiprocessing as mp
import shutil
import tempfile
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path

import torch

from ..argtypes import COUNT
from ..data.formats import ReadOptions
from ..data.sources import load_dataset
from ..errors import UserError
from ..threads import allowed_cores
from ..train.reuse import reuse_captures
from .executors import executor
from .search import ASHA
from .trial import Prepared, batch_key, run_batched, run_fit_job, run_trial

Task = list[tuple[str, dict]]  # one trial, or trials that train together


def group_tasks(trials: list[tuple[str, dict]], batch: bool) -> list[Task]:
    """One task per trial, except FFN trials that share a `batch_key`, which become one task."""
    if not batch:
        return [[t] for t in trials]
    groups: dict[tuple, Task] = {}
    tasks: list[Task] = []
    for trial in trials:
        key = batch_key(trial[1])
        if key is None:
            tasks.append([trial])
        elif key in groups:
            groups[key].append(trial)
        else:
            groups[key] = [trial]
            tasks.append(groups[key])
    return tasks


def _worker(conn, data: dict, out: str | None, device: str, threads: int, ask: bool) -> None:
    torch.set_num_threads(threads)
    loaded: list[Prepared] = []  # the sweep's data set, loaded on the first trial that needs it

    def prepared() -> Prepared:
        if not loaded:
            read = ReadOptions.from_dict(data.get("read"))
            loaded.append(Prepared(load_dataset(data["dataset"], data["data_dir"], read), data["val"], data["train_size"]))
        return loaded[0]

    out_dir = Path(out) if out else None

    def report(row: dict) -> bool:
        conn.send(("epoch", row))
        return conn.recv()

    shared: dict[str, object] = {}  # an experiment's splits, loaded once per worker
    with reuse_captures():  # trials of one step shape replay the graph the first of them captured
        _serve(conn, shared, prepared, out_dir, device, report if ask else None)


def _serve(conn, shared: dict, prepared: Callable[[], Prepared], out_dir: Path | None, device: str, report) -> None:
    while True:
        task = conn.recv()
        if task is None:
            return
        if len(task) == 1 and "fit_job" in task[0][1]:
            job = task[0][1]["fit_job"]
            if job["splits"] not in shared:
                shared[job["splits"]] = torch.load(job["splits"], weights_only=False)  # our own temp file
            records = [run_fit_job(task[0][0], job, shared[job["splits"]], out_dir)]
        elif len(task) == 1:
            records = [run_trial(*task[0], prepared(), out_dir, device, report)]
        else:
            records = run_batched(task, prepared(), out_dir, device)
        conn.send(("done", records))


class Worker:
    def __init__(self, context, args: tuple):
        self.conn, child = context.Pipe()
        self.proc = context.Process(target=_worker, args=(child, *args), daemon=True)
        self.proc.start()
        child.close()
        self.task: Task | None = None


@dataclass(frozen=True)
class LocalOptions:
    jobs: int | None = field(default=None, metadata={"type": COUNT, "help": "trials at once (default: the cores)"})
    threads: int | None = field(default=None, metadata={"type": COUNT, "help": "torch threads per trial (default: cores / jobs)"})


@executor("local", LocalOptions)
class LocalExecutor:
    """Runs tasks on `jobs` worker processes with `threads` torch threads each."""

    def __init__(self, data: dict, out: Path | None, device: str = "cpu", options: LocalOptions = LocalOptions()):
        for name in ("jobs", "threads"):
            if getattr(options, name) is not None and getattr(options, name) < 1:
                raise UserError(f"--{name} {getattr(options, name)}: must be at least 1")
        self.jobs = max(1, options.jobs or len(allowed_cores()))
        self.threads = max(1, options.threads or len(allowed_cores()) // self.jobs)
        self.data, self.out, self.device = data, out, device
        self.workers: list[Worker] = []
        self.context = mp.get_context("spawn")  # a fresh interpreter: no torch thread pool inherited from a fork

    def info(self) -> dict:
        return {"executor": self.name, "jobs": self.jobs, "threads_per_trial": self.threads}

    def _start(self, ask: bool) -> Worker:
        return Worker(self.context, (self.data, str(self.out) if self.out else None, self.device, self.threads, ask))

    def run(self, trials: list[tuple[str, dict]], on_record: Callable[[dict], None], asha: ASHA | None = None,
            splits: dict | None = None) -> None:
        """Train every trial; call `on_record` with each record as it arrives. `splits` (key -> Splits) are the data of
        experiment jobs (options {"fit_job": {..., "splits": key}}): written once to a file each worker loads once."""
        if splits:
            folder = Path(tempfile.mkdtemp(prefix="mnistlab-splits-"))
            paths = {key: folder / f"{i}.pt" for i, key in enumerate(splits)}
            for key, path in paths.items():
                torch.save(splits[key], path)
            trials = [(i, {"fit_job": {**o["fit_job"], "splits": str(paths[o["fit_job"]["splits"]])}}) for i, o in trials]
        pending = deque(group_tasks(trials, asha is None and not splits))
        ask = asha is not None
        self.close()
        self.workers = [self._start(ask) for _ in range(min(self.jobs, len(pending)))]
        try:
            while pending or any(w.task for w in self.workers):
                for i, w in enumerate(self.workers):
                    if w.task is None and pending:
                        if not w.proc.is_alive():
                            w = self.workers[i] = self._start(ask)
                        w.task = pending.popleft()
                        w.conn.send(w.task)
                busy = [w for w in self.workers if w.task]
                ready = wait([w.conn for w in busy] + [w.proc.sentinel for w in busy])
                for w in busy:
                    message = None
                    if w.conn in ready:
                        try:
                            message = w.conn.recv()
                        except (EOFError, OSError):  # the worker is gone: wait for its exit, then report it below
                            w.proc.join(timeout=30)
                    if message is not None:
                        kind, payload = message
                        if kind == "epoch":
                            w.conn.send(asha.keep(payload["epoch"], payload.get(asha.metric)))
                        else:
                            w.task = None
                            for record in payload:
                                on_record(record)
                    elif w.task and not w.proc.is_alive():
                        w.proc.join()
                        for trial_id, _ in w.task:
                            on_record({"id": trial_id, "status": "failed", "history": [],
                                       "reason": f"the worker process {w.proc.pid} died (exit code {w.proc.exitcode}) "
                                                 f"during the trial; rerun with --resume to retry it",
                                       "metrics": {"val_accuracy": None, "val_loss": None, "train_accuracy": None,
                                                   "seconds": None}})
                        w.task = None
        finally:
            self.close()
            if splits:
                shutil.rmtree(folder, ignore_errors=True)

    def close(self) -> None:
        for w in self.workers:
            if w.proc.is_alive():
                try:
                    w.conn.send(None)
                except OSError:
                    pass
                w.proc.join(timeout=5)
                if w.proc.is_alive():
                    w.proc.kill()
        self.workers = []
