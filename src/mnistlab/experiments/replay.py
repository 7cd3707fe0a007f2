"""Run an experiment's configurations through an executor, with the results of an in-process run.

An experiment is code that calls `ctx.fit` one configuration at a time and reads each result as it
goes, so it cannot simply be handed to a pool. Three passes instead:

1. plan: run the experiment with a stand-in `fit` that trains nothing and returns an untrained run,
   recording every call (model config, initial weights, splits, options);
2. execute: train all recorded calls at once on the executor (each distinct splits shipped once);
3. replay: run the experiment again for real, its `fit` answering call k with the run trained in step 2
   when the call is the one planned (same model, weights and options), else training in-process.

A call whose options hold a callback (an `on_epoch` recorder) trains in-process, as does everything
after the experiment's code takes a branch the plan did not see: the results are those of `fit`
either way. Experiments that train through `fit_many` directly (registered `batched`) run in-process.
"""
from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from ..data.splits import Splits
from ..errors import UserError
from ..models import Net
from ..sweep.executors import ExecutorSpec, check_executor, make_executor
from ..sweep.trial import FitJob
from ..train.config import TrainConfig
from ..train.device import resolve_device
from ..train.loop import fit
from ..train.run import Run, load_run
from .registry import Setup, get, run_experiment


@dataclass
class Call:
    model: dict
    init: dict
    splits: Splits
    options: dict

    def matches(self, model: Net, options: dict) -> bool:
        state = model.state_dict()
        return (model.config.to_dict() == self.model and options == self.options and state.keys() == self.init.keys()
                and all(torch.equal(state[k].cpu(), self.init[k]) for k in state))


def untrained_run(model: Net, splits: Splits, options: dict) -> Run:
    """What the planning pass returns: the right shapes and keys, zeros for every number."""
    cfg = TrainConfig(**{k: v for k, v in options.items() if k in TrainConfig.__dataclass_fields__})
    val = 0.0 if splits.x_val is not None else None
    history = [{"epoch": e, "train_loss": 0.0, "train_accuracy": 0.0, "val_loss": val, "val_accuracy": val, "test_loss": 0.0,
                "test_accuracy": 0.0, "seconds": 0.0, "eval_seconds": 0.0} for e in range(1, math.ceil(cfg.epochs) + 1)]
    train = {**asdict(cfg), "loss": cfg.loss or "ce", "precision": "fp32", "epochs_trained": cfg.epochs}
    return Run(model.eval(), splits.normalizer, train, dict(splits.info), history, tuple(splits.classes))


def plan(name: str, setup: Setup, options: dict, say: Callable[[str], None] = lambda line: None) -> list[Call | None]:
    """Every `ctx.fit` call of one pass of the experiment (None for a call that must train in-process); where the
    experiment's own code cannot run on untrained results, the calls before that point, and `say` tells why."""
    calls: list[Call | None] = []

    def planner(model: Net, splits: Splits, on_epoch=None, **fit_options) -> Run:  # on_epoch: progress only
        if any(callable(v) for v in fit_options.values()):
            calls.append(None)
        else:
            calls.append(Call(model.config.to_dict(), {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
                              splits, fit_options))
        return untrained_run(model, splits, fit_options)

    with tempfile.TemporaryDirectory(prefix="mnistlab-plan-") as tmp:
        try:
            run_experiment(name, replace(setup, out=Path(tmp) / name), say=lambda line: None, trainer=planner, **options)
        except UserError:
            raise
        except Exception as exc:  # code that cannot run on untrained results: what was planned so far still holds
            first = (str(exc).splitlines() or [""])[0]
            say(f"{name}: {len(calls)} configuration(s) planned for the executor; the rest train in-process (the "
                f"planning pass stopped at {type(exc).__name__}: {first})")
    return calls


def execute(calls: list[Call | None], runner, say: Callable[[str], None]) -> dict[int, Path]:
    """Train the planned calls on `runner`; the run directory of each call that finished, by call index."""
    keys: dict[int, str] = {}
    splits: dict[str, Splits] = {}
    for call in calls:
        if call is not None and id(call.splits) not in keys:
            keys[id(call.splits)] = f"s{len(keys)}"
            splits[keys[id(call.splits)]] = call.splits
    jobs = [FitJob(f"c{k:03d}", c.model, {n: t.numpy() for n, t in c.init.items()}, c.options, keys[id(c.splits)])
            for k, c in enumerate(calls) if c is not None]
    done: dict[int, Path] = {}

    def on_record(record: dict) -> None:
        if record["status"] == "finished":
            done[int(record["id"][1:])] = Path(record["run_dir"])
        else:
            say(f"  {record['id']}: {record['status']} on the executor ({record.get('reason')}); it trains in-process")

    if jobs:
        say(f"training {len(jobs)} configuration(s) on the {runner.name} executor")
        runner.run(jobs, on_record, None, splits)
    return done


def replayer(calls: list[Call | None], done: dict[int, Path]) -> Callable[..., Run]:
    """A stand-in for `fit` that answers each planned call with its run from the executor."""
    count = iter(range(10**9))

    def trainer(model: Net, splits: Splits, on_epoch=None, **options) -> Run:
        k = next(count)
        call = calls[k] if k < len(calls) else None
        if call is None or k not in done or not call.matches(model, options):
            return fit(model, splits, on_epoch=on_epoch, **options)
        trained = load_run(done[k], str(options.get("device", "cpu")))
        model.load_state_dict(trained.model.state_dict())  # `fit` trains the model it is given: so does the replay
        trained.model = model.to(trained.device).eval()
        trained.run_dir = None
        return trained

    return trainer


def run_experiment_on(name: str, setup: Setup, executor: ExecutorSpec, *, say: Callable[[str], None] = print,
                      **options) -> dict:
    """`run_experiment` with the configurations trained on `executor` (local worker processes or Ray)."""
    check_executor(executor)  # before the experiment's data loads
    setup = replace(setup, device=resolve_device(setup.device).type)
    if get(name).batched:
        say(f"{name} trains its configurations together through fit_many: it runs in this process")
        return {**run_experiment(name, setup, say=say, **options),
                "executor": {"executor": "in-process", "configurations": None, "trained_on_executor": 0}}
    calls = plan(name, setup, options, say)
    with tempfile.TemporaryDirectory(prefix="mnistlab-runs-") as tmp:
        runner = make_executor(executor, {}, Path(tmp) / "trials", setup.device)
        try:
            done = execute(calls, runner, say)
            where = runner.info()
        finally:
            runner.close()
        result = run_experiment(name, setup, say=say, trainer=replayer(calls, done), **options)
    result["executor"] = {**where, "configurations": len(calls), "trained_on_executor": len(done)}
    return result
