"""The local executor: worker processes on this machine, each with its share of the cores.

Each worker takes tasks over a pipe (a trial, a batch of FFN trials that `fit_many` trains as one
program, or an experiment's planned fit job) and runs them with `trial.run_task`, loading the data
once, on the first task that needs it. With early stopping a worker asks the
parent after every epoch whether to go on, so ASHA sees every trial's rungs in one place.
A worker that dies takes only its own task with it: that task is recorded as failed and a
fresh worker takes the next one.
"""
from __future__ import annotations

import multiprocessing as mp
import shutil
import socket
import tempfile
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from multiprocessing.connection import wait
from pathlib import Path

from ..argtypes import COUNT
from ..errors import UserError
from ..lazy import lazy_module
from ..threads import allowed_cores
from ..train.device import worker_process
from .executors import executor
from .search import ASHA
from .trial import Batch, FitJob, Prepared, Task, Trial, batch_key, run_task, task_ids, trial_record

torch = lazy_module("torch")  # loads where tasks run: `sweep --help` lists this executor without it


def group_tasks(tasks: list[Task], batch: bool) -> list[Task]:
    """The tasks as given, except that with `batch` FFN trials that share a `batch_key` become one `Batch`."""
    if not batch:
        return list(tasks)
    groups: dict[tuple, list[Trial]] = {}
    order: list[Task | tuple] = []
    for task in tasks:
        key = batch_key(task.options) if isinstance(task, Trial) else None
        if key is None:
            order.append(task)
        elif key in groups:
            groups[key].append(task)
        else:
            groups[key] = [task]
            order.append(key)
    return [task if not isinstance(task, tuple) else Batch(tuple(groups[task])) if len(groups[task]) > 1 else groups[task][0]
            for task in order]


def _worker(conn, data: dict, out: str | None, device: str, threads: int, ask: bool) -> None:
    from ..train.reuse import reuse_captures  # torch's step capture: loaded in the worker, not for `sweep --help`

    torch.set_num_threads(threads)
    worker_process()  # the trials keep the executor's count
    prepared = Prepared(data, shared=lambda path: torch.load(path, weights_only=False))  # an experiment's: our own temp file
    out_dir = Path(out) if out else None

    def report(row: dict) -> bool:
        conn.send(("epoch", row))
        return conn.recv()

    with reuse_captures():  # trials of one step shape replay the graph the first of them captured
        while (task := conn.recv()) is not None:
            conn.send(("done", run_task(task, prepared, out_dir, device, report if ask else None)))


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

    def run(self, tasks: list[Task], on_record: Callable[[dict], None], asha: ASHA | None = None,
            splits: dict | None = None) -> None:
        """Run every task; call `on_record` with each record as it arrives. `splits` (key -> Splits) are the data of
        the experiment's fit jobs: written once to a file each worker loads once."""
        if splits:
            folder = Path(tempfile.mkdtemp(prefix="mnistlab-splits-"))
            paths = {key: folder / f"{i}.pt" for i, key in enumerate(splits)}
            for key, path in paths.items():
                torch.save(splits[key], path)
            tasks = [replace(t, splits=str(paths[t.splits])) if isinstance(t, FitJob) else t for t in tasks]
        pending = deque(group_tasks(tasks, asha is None and not splits))
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
                        for trial_id in task_ids(w.task):
                            on_record(trial_record(trial_id, [], "failed", f"the worker process {w.proc.pid} died (exit code "
                                                   f"{w.proc.exitcode}) during the trial; rerun with --resume to retry it",
                                                   None, place={"host": socket.gethostname(), "pid": w.proc.pid}))
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
