"""The Ray executor: the same trials as the local executor, as Ray Tune trials on a cluster.

The data set goes into Ray's object store once (`tune.with_parameters`), so each node
holds one copy in shared memory that its trials read without copying; nothing is shipped
per trial. Each trial reports every epoch to Tune (for ASHA) and its record at the end; a
driver-side callback writes each record to sweep.json as it arrives. A trial whose worker
dies is retried once by Tune, then recorded as failed. Trial run directories go to the
sweep folder, which must be on storage every node can write (the local disk for a one-machine
cluster, a shared file system for a multi-node one).
"""
from __future__ import annotations

import _thread
import contextlib
import json
import logging
import math
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..argtypes import bounded
from ..data.formats import ReadOptions
from ..data.sources import load_dataset
from ..errors import UserError
from ..lazy import lazy_module
from ..train.device import worker_process
from .executors import executor
from .search import ASHA, maximize
from .trial import Task, trial_options, trial_record

torch = lazy_module("torch")  # loads where trials run: `sweep --help` lists this executor without it

INSTALL = "pip install 'mnistlab[ray]'"
CONNECT_TIMEOUT = 30.0  # seconds to reach a cluster's --address; Ray itself retries a closed port for ever


def check_reachable(address: str | None, timeout: float = CONNECT_TIMEOUT) -> None:
    """Refuse within `timeout` seconds a HOST:PORT that nothing answers on, before Ray is asked to connect there.

    None (start a local Ray), `auto` (Ray finds the local cluster or says there is none) and addresses
    without a port are left to Ray."""
    if not address or address == "auto":
        return
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except (OSError, ValueError, OverflowError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or exc.__class__.__name__
        raise UserError(f"--address {address}: no Ray cluster answered there within {timeout:g} s ({reason}); start one "
                        f"with `ray start --head` or check HOST:PORT") from None


def _ray():
    try:
        # ray: the optional ray extra
        import ray
        from ray import tune
    except ModuleNotFoundError:
        raise UserError(f"--executor ray needs Ray Tune: {INSTALL}") from None
    return ray, tune


def _trainable(config: dict, dataset=None, splits=None, tasks=None) -> None:
    """One Tune trial: `config["trial"]` is the id of its task in `tasks` (a Trial or a FitJob; Tune's grid holds
    plain values); the tasks, `dataset` and an experiment's `splits` come from the object store."""
    # ray: this runs in a Ray worker (the optional ray extra)
    from ray import tune

    from .trial import Prepared, run_task

    task = tasks[config["trial"]]
    torch.set_num_threads(max(1, math.floor(config["threads"])))
    worker_process()  # the trial keeps Ray's share of the cores
    prepared = Prepared(config["data"], dataset, splits.__getitem__ if splits else None)

    def report(row: dict) -> bool:
        tune.report({k: v for k, v in row.items() if v is not None})
        return True  # Tune's scheduler stops the trial itself

    [record] = run_task(task, prepared, Path(config["out"]) if config["out"] else None, config["device"], report)
    tune.report({"epoch": len(record.get("history") or []) or 1, "record": json.dumps(record)})


@contextlib.contextmanager
def interrupted_after(seconds: float | None) -> Iterator[dict]:
    """Interrupt the main thread, as Ctrl+C would, if the block still runs after `seconds`; the yielded dict's
    "fired" says whether it did. Ray retries an address that answers but is no cluster for ever, blocking in
    C++ about 40 s at a time, so the interrupt lands at its next return to Python. A process started with Ctrl+C
    ignored (`cmd &` in a script, nohup) gets Python's handler for the block, or the interrupt would do nothing."""
    state = {"fired": False, "done": False}
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield state
        return
    lock = threading.Lock()
    handler = signal.getsignal(signal.SIGINT)
    if not callable(handler):
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def fire() -> None:
        with lock:
            if not state["done"]:
                state["fired"] = True
                _thread.interrupt_main()
    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        yield state
    finally:
        with lock:
            state["done"] = True
        timer.cancel()
        if not callable(handler):
            signal.signal(signal.SIGINT, handler if handler is not None else signal.SIG_DFL)


@dataclass(frozen=True)
class RayOptions:
    address: str | None = field(default=None, metadata={
        "type": str, "help": "HOST:PORT of the cluster, or auto (default: start a local Ray and stop it after)"})
    cpus_per_trial: float = field(default=1, metadata={"type": float, "help": "CPUs per trial"})
    gpus_per_trial: float = field(default=0, metadata={"type": float, "help": "GPUs per trial"})
    connect_timeout: float = field(default=CONNECT_TIMEOUT, metadata={
        "type": bounded(float, 0.1, 3600), "help": "seconds to reach --address before giving up, in one line"})


@executor("ray", RayOptions)
class RayExecutor:
    def __init__(self, data: dict, out: Path | None, device: str = "cpu", options: RayOptions = RayOptions()):
        self.ray, self.tune = _ray()
        self.check(options)
        self.data, self.out, self.device, self.address = data, out, device, options.address
        self.cpus, self.gpus = options.cpus_per_trial, options.gpus_per_trial
        self.connect_timeout, self.rounds = options.connect_timeout, 0
        self._connect()

    @staticmethod
    def check(options: RayOptions) -> None:
        """What can be refused before any work: the resources per trial, and an address nothing answers on."""
        if options.cpus_per_trial <= 0 or options.gpus_per_trial < 0:
            raise UserError(f"--cpus-per-trial {options.cpus_per_trial:g} / --gpus-per-trial {options.gpus_per_trial:g}: "
                            f"need more than 0 CPUs and 0 or more GPUs per trial")
        check_reachable(options.address, options.connect_timeout)

    def _connect(self) -> None:
        watch = {"fired": False}
        try:
            with interrupted_after(self.connect_timeout if self.address else None) as watch:
                self.ray.init(address=self.address, include_dashboard=False, log_to_driver=False,
                              logging_level=logging.ERROR, configure_logging=True)
        except KeyboardInterrupt:
            if not watch["fired"]:
                raise
            self.ray.shutdown()
            raise UserError(f"--address {self.address}: something answers there, but no Ray cluster connected within "
                            f"{self.connect_timeout:g} s; check HOST:PORT (the head's GCS port, 6379 by default)") from None
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = self.address or "a local instance"
            raise UserError(f"--address {where}: cannot connect to Ray ({str(exc).splitlines()[0]}); "
                            f"start one with `ray start --head` or check HOST:PORT") from None
        total = self.ray.cluster_resources().get("CPU", 1)
        self.jobs = max(1, int(total // self.cpus))

    def info(self) -> dict:
        return {"executor": self.name, "address": self.address or "local", "cpus_per_trial": self.cpus,
                "gpus_per_trial": self.gpus, "slots": self.jobs,
                "nodes": len([n for n in self.ray.nodes() if n.get("Alive")])}

    def run(self, tasks: list[Task], on_record: Callable[[dict], None], asha: ASHA | None = None,
            splits: dict | None = None) -> None:
        """Run every task as a Tune trial; `splits` (key -> Splits) are experiment jobs' data, put in the store once."""
        tune = self.tune
        read = ReadOptions.from_dict(self.data.get("read"))
        dataset = None if splits else load_dataset(self.data["dataset"], self.data["data_dir"], read)
        by_id = {t.id: t for t in tasks}
        trainable = tune.with_resources(tune.with_parameters(_trainable, dataset=dataset, splits=splits, tasks=by_id),
                                        {"cpu": self.cpus, "gpu": self.gpus})
        common = {"data": self.data, "device": self.device,
                  "threads": self.cpus, "out": str(self.out.resolve()) if self.out else None}
        scheduler = None
        if asha is not None:
            # ray: the optional ray extra
            from ray.tune.schedulers import ASHAScheduler

            max_epochs = max(math.ceil(trial_options(t.options)[1]["epochs"]) for t in tasks)
            scheduler = ASHAScheduler(time_attr="epoch", metric=asha.metric, mode="max" if maximize(asha.metric) else "min",
                                      max_t=max_epochs, grace_period=asha.grace, reduction_factor=asha.eta)
        self.rounds += 1
        tuner = tune.Tuner(
            trainable,
            param_space={**common, "trial": tune.grid_search(list(by_id))},
            tune_config=tune.TuneConfig(scheduler=scheduler, max_concurrent_trials=self.jobs, reuse_actors=True,
                                        trial_dirname_creator=_dirname),
            run_config=tune.RunConfig(name=f"round{self.rounds}", storage_path=str((self.out or Path(".")).resolve().parent / "ray"),
                                      failure_config=tune.FailureConfig(max_failures=1), verbose=0,
                                      callbacks=[_recorder(on_record)]),
        )
        with contextlib.redirect_stdout(sys.stderr):  # Tune's tables: stdout stays the --json object's
            tuner.fit()

    def close(self) -> None:
        self.ray.shutdown()


def _dirname(trial) -> str:
    return trial.config["trial"]


def _stopped(trial_id: str, rows: list[dict], status: str, reason: str | None) -> dict:
    """The record of a trial Tune ended (stopped early, or failed after its retry), from the epochs it reported."""
    seconds = sum(r.get("seconds") or 0 for r in rows) if rows else None
    place = {"host": rows[-1].get("hostname") if rows else None, "pid": rows[-1].get("pid") if rows else None}
    return trial_record(trial_id, rows, status, reason, seconds, place=place)


def _recorder(on_record: Callable[[dict], None]):
    """A Tune callback (driver side) that hands each trial's record to `on_record` the moment Tune knows how it ended."""
    _, tune = _ray()

    class Recorder(tune.Callback):
        def __init__(self):
            self.rows: dict[str, list[dict]] = {}
            self.sent: set[str] = set()

        def on_trial_result(self, iteration, trials, trial, result, **info):
            tid = trial.config["trial"]
            if "record" in result:
                self.sent.add(tid)
                on_record(json.loads(result["record"]))
            else:
                self.rows.setdefault(tid, []).append(result)

        def on_trial_recover(self, iteration, trials, trial, **info):
            self.rows.pop(trial.config["trial"], None)  # the retry starts again from epoch 1

        def on_trial_complete(self, iteration, trials, trial, **info):
            self.end(trial, "stopped_early", None)

        def on_trial_error(self, iteration, trials, trial, **info):
            lines = [line.strip() for line in str(trial.get_error() or "").splitlines() if line.strip()]
            self.end(trial, "failed", f"{lines[-1] if lines else 'the trial failed'} (after a retry on Ray)")

        def end(self, trial, status: str, reason: str | None) -> None:
            tid = trial.config["trial"]
            if tid not in self.sent:
                self.sent.add(tid)
                on_record(_stopped(tid, self.rows.get(tid, []), status, reason))

    return Recorder()
