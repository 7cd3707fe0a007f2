"""One task from options to record, the same in a local worker process, a Ray task or any other executor.

An executor receives typed tasks (`Trial`, `Batch`, `FitJob`) and hands each to `run_task` with a `Prepared`
(the process's data, loaded on first use): a trial trains with `mnistlab.fit` (a batch of FFN trials that share
a shape with `fit_many`, as one program; an experiment's planned job with `fit` on the experiment's own splits),
saves a finished run as a normal run directory, and returns plain records (`trial_record`): per-epoch
validation metrics, status and where it ran. Test metrics stay in the run directory: the sweep never looks at
them to choose.
"""
from __future__ import annotations

import math
import os
import socket
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..data.formats import ReadOptions
from ..data.sources import load_dataset
from ..data.splits import make_splits
from ..errors import UserError
from ..lazy import lazy_module
from ..models.grammar import Dense, parse_spec
from ..train.recipes import get_recipe, settle

if TYPE_CHECKING:
    from ..data.dataset import Dataset
    from ..data.splits import Splits

torch = lazy_module("torch")  # the executors register from modules that import this one: `--help` lists them without torch

# What a trial needs beyond TrainConfig: how to build the model and prepare the data.
MODEL_KEYS = ("model", "activation", "head")
DATA_KEYS = ("normalize", "folds")  # folds: score the trial by the mean of a K-fold cross-validation
HISTORY_KEYS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds")


@dataclass(frozen=True)
class Trial:
    """One sweep trial: its id and its options (recipe, model arguments, TrainConfig fields, normalize, folds)."""

    id: str
    options: dict


@dataclass(frozen=True)
class Batch:
    """Sweep trials that share a `batch_key`: `fit_many` trains them as one program."""

    trials: tuple[Trial, ...]


@dataclass(frozen=True)
class FitJob:
    """One `fit` call an experiment planned (experiments/replay.py): the model's config and initial weights (arrays),
    the fit options, and the key of the experiment's splits the executor was given."""

    id: str
    model: dict
    init: dict
    options: dict
    splits: str


Task = Trial | Batch | FitJob


def task_ids(task: Task) -> list[str]:
    return [t.id for t in task.trials] if isinstance(task, Batch) else [task.id]


class StopTrial(Exception):
    """Raised from fit's on_epoch callback when early stopping ends a trial."""


def trial_options(options: dict) -> tuple[dict, dict, str]:
    """Split a trial's full options into model arguments, TrainConfig fields and the normalization: the recipe
    fills what the trial leaves out, as `recipes.settle` lays it out for `fit` and `mnistlab train`."""
    name = options.get("recipe", "default")
    recipe = get_recipe(name)
    model = {k: options.get(k, getattr(recipe, k)) for k in MODEL_KEYS}
    given = {k: v for k, v in options.items() if k not in ("recipe", *MODEL_KEYS, *DATA_KEYS, "device")}
    train = {k: v for k, v in settle(name, model["model"], given).items() if k != "device"}
    return model, train, options.get("normalize", recipe.normalize)


class Prepared:
    """A process's data: the sweep's data set (`data`: dataset, data_dir, read, val, train_size), loaded on the first
    trial that needs it unless `dataset` is given, its splits once per normalization; an experiment's splits by key,
    each asked of `shared` once."""

    def __init__(self, data: dict, dataset: Dataset | None = None, shared: Callable[[str], Splits] | None = None):
        self.data, self.dataset, self.shared = data, dataset, shared
        self._splits: dict[str, Splits] = {}
        self._shared: dict[str, Splits] = {}

    def splits(self, normalize: str) -> Splits:
        if self.dataset is None:
            read = ReadOptions.from_dict(self.data.get("read"))
            self.dataset = load_dataset(self.data["dataset"], self.data.get("data_dir"), read)
        if normalize not in self._splits:
            self._splits[normalize] = make_splits(self.dataset, normalize, self.data.get("val"), self.data.get("train_size"))
        return self._splits[normalize]

    def experiment_splits(self, key: str) -> Splits:
        if key not in self._shared:
            self._shared[key] = self.shared(key)
        return self._shared[key]


def run_task(task: Task, prepared: Prepared, out: Path | None, device: str,
             report: Callable[[dict], bool] | None = None) -> list[dict]:
    """Run one task of any kind; its records (one per trial). `report` is a trial's early-stopping question."""
    if isinstance(task, FitJob):
        return [run_fit_job(task, prepared.experiment_splits(task.splits), out)]
    if isinstance(task, Batch):
        return run_batched(task, prepared, out, device)
    return [run_trial(task, prepared, out, device, report)]


def where() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def trial_record(trial_id: str, history: list[dict], status: str, reason: str | None, seconds: float | None,
                 params: int | None = None, place: dict | None = None) -> dict:
    """The record a trial ends with, wherever it ran or failed (a worker, a Ray task, a worker that died): its
    per-epoch validation history, status, last metrics and `place` (host and pid; default this process)."""
    rows = [{k: r.get(k) for k in HISTORY_KEYS} for r in history]
    last = rows[-1] if rows else {}
    return {"id": trial_id, "status": status, "reason": reason, "history": rows,
            "metrics": {"val_accuracy": last.get("val_accuracy"), "val_loss": last.get("val_loss"),
                        "train_accuracy": last.get("train_accuracy"),
                        "seconds": None if seconds is None else round(seconds, 3)},
            "params": params, "where": where() if place is None else place}


def run_trial(trial: Trial, prepared: Prepared, out: Path | None, device: str,
              report: Callable[[dict], bool] | None = None) -> dict:
    """Train one trial; `report(row)` after each epoch returns False to stop it early. Never raises for a
    trial's own failure (a diverging rate, a bad option): that becomes a failed record."""
    # torch's models and training loop: loaded where trials run (see `torch` above)
    from ..models import build_model
    from ..train.loop import fit

    start = time.perf_counter()
    trial_id, options = trial.id, trial.options
    history: list[dict] = []
    params = None

    def on_epoch(row: dict, _net) -> None:
        history.append(row)
        if report is not None and not report(row) and row["epoch"] < math.ceil(train["epochs"]):
            raise StopTrial

    try:
        model_args, train, normalize = trial_options(options)
        splits = prepared.splits(normalize)
        model = build_model(model_args["model"], model_args["activation"], model_args["head"],
                            tuple(splits.x_train.shape[1:]), len(splits.classes), train["seed"])
        params = sum(r["params"] for r in model.rows)
        if options.get("folds"):
            run = cross_validated(model, splits, options, {**train, "device": device})
        else:
            run = fit(model, splits, on_epoch=on_epoch, **{**train, "device": device})
    except StopTrial:
        return trial_record(trial_id, history, "stopped_early", None, time.perf_counter() - start, params)
    except UserError as exc:
        return trial_record(trial_id, history, "failed", str(exc), time.perf_counter() - start)
    except Exception as exc:  # a bug or a resource problem in one trial must not end the sweep
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        return trial_record(trial_id, history, "failed", f"{exc.__class__.__name__}: {exc} (at {Path(frame.filename).name}:{frame.lineno})",
                       time.perf_counter() - start)
    if out is not None:
        run.save(out / trial_id)
    return trial_record(trial_id, run.history, "finished", None, time.perf_counter() - start, params)


def cross_validated(model, splits: Splits, options: dict, train: dict):
    """A trial scored by K-fold cross-validation: fold 1's run, its history the folds' mean epoch by epoch
    (what the sweep compares), every fold's score in extras["cv"]."""
    from ..train.cv import cross_validate  # torch: loaded where trials run (see `torch` above)

    cv = cross_validate(model, splits, options["folds"], recipe=options.get("recipe", "default"), **train)
    run, scores = cv.runs[0], cv.to_dict()
    mean = lambda key, rows: None if any(r[key] is None for r in rows) else float(np.mean([r[key] for r in rows]))  # noqa: E731
    run.history = [{**rows[0], **{k: mean(k, rows) for k in HISTORY_KEYS if k != "epoch"}}
                   for rows in zip(*(r.history for r in cv.runs))]
    run.extras["cv"] = scores
    return run


def batch_key(options: dict) -> tuple | None:
    """Trials with the same key can train together in `fit_many` (FFNs of one depth, activation and head,
    trained with plain options); None for a trial that must train alone."""
    from ..train.stackopt import OPTIONS as STACKED_OPTIMIZERS  # torch: asked only when trials are about to run

    try:
        model_args, train, normalize = trial_options(options)
        layers = parse_spec(model_args["model"])
    except UserError:
        return None
    plain = (not options.get("folds") and all(isinstance(layer, Dense) for layer in layers) and train["schedule"] == "none"
             and train["optimizer"].lower() in STACKED_OPTIMIZERS
             and not train["weight_decay"] and not train["label_smoothing"] and not train["optimizer_options"]
             and train["augment"] == "none" and not train["max_steps"] and train["loss"] is None
             and float(train["epochs"]).is_integer())
    if not plain:
        return None
    return (len(layers), model_args["activation"], model_args["head"], normalize, train["batch_size"],
            int(train["epochs"]), train["seed"], train["drop_last"])


def run_batched(batch: Batch, prepared: Prepared, out: Path | None, device: str) -> list[dict]:
    """Train trials that share a `batch_key` as one program; each gets its own record and run directory."""
    # torch's models and fit_many: loaded where trials run (see `torch` above)
    from ..models import build_model
    from ..train.many import fit_many

    start = time.perf_counter()
    trials = [(t.id, t.options) for t in batch.trials]
    try:
        parsed = [trial_options(options) for _, options in trials]
        splits = prepared.splits(parsed[0][2])
        models = [build_model(m["model"], m["activation"], m["head"], tuple(splits.x_train.shape[1:]),
                              len(splits.classes), t["seed"]) for m, t, _ in parsed]
        first = parsed[0][1]
        runs = fit_many(models, splits, [(t["optimizer"], t["lr"]) for _, t, _ in parsed], epochs=int(first["epochs"]),
                        batch_size=first["batch_size"], drop_last=first["drop_last"], seed=first["seed"], device=device)
    except UserError as exc:
        return [trial_record(trial_id, [], "failed", str(exc), time.perf_counter() - start) for trial_id, _ in trials]
    seconds = time.perf_counter() - start
    records = []
    for (trial_id, _), run in zip(trials, runs):
        if run.diverged is not None and not run.diverged.finite:
            lr = run.train["lr"]
            records.append(trial_record(trial_id, run.history, "failed", f"training diverged: the loss stopped being finite; "
                                                                    f"try a smaller learning rate (e.g. --lr {lr / 10:g})",
                                   seconds))
            continue
        if out is not None:
            run.save(out / trial_id)
        record = trial_record(trial_id, run.history, "finished", None, seconds, sum(r["params"] for r in run.model.rows))
        record["batched"] = len(trials)
        records.append(record)
    return records


def run_fit_job(job: FitJob, splits: Splits, out: Path) -> dict:
    """One `fit` call planned by an experiment: the model rebuilt from its config and initial weights, trained on the
    experiment's own splits with its options, saved to out/<job.id> for the driver to load."""
    # torch's models and training loop: loaded where trials run (see `torch` above)
    from ..models import ModelConfig, build_model
    from ..train.loop import fit

    start = time.perf_counter()
    try:
        config = ModelConfig.from_dict(job.model)
        model = build_model(config.spec, config.activation, config.head, config.input_shape, config.n_classes, seed=None)
        model.load_state_dict({k: torch.as_tensor(v) for k, v in job.init.items()})
        run = fit(model, splits, **job.options)
    except UserError as exc:
        return {"id": job.id, "status": "failed", "reason": str(exc), "seconds": time.perf_counter() - start, "where": where()}
    run.save(out / job.id)
    return {"id": job.id, "status": "finished", "reason": None, "run_dir": str(out / job.id),
            "seconds": time.perf_counter() - start, "where": where()}
