"""One trial from options to record, the same in a local worker process and in a Ray task.

A trial trains with `mnistlab.fit` (or, for FFNs that share a shape, `fit_many` with its
siblings), saves a finished run as a normal run directory, and returns a plain record:
its per-epoch validation metrics, status and where it ran. Test metrics stay in the run
directory: the sweep never looks at them to choose.
"""
from __future__ import annotations

import math
import os
import socket
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..data.dataset import Dataset
from ..data.splits import Splits, make_splits
from ..errors import UserError
from ..models import ModelConfig, build_model, parse_spec
from ..models.grammar import Dense
from ..train.cv import cross_validate
from ..train.loop import fit
from ..train.many import fit_many
from ..train.recipes import get_recipe, settle
from ..train.stackopt import OPTIONS as STACKED_OPTIMIZERS

# What a trial needs beyond TrainConfig: how to build the model and prepare the data.
MODEL_KEYS = ("model", "activation", "head")
DATA_KEYS = ("normalize", "folds")  # folds: score the trial by the mean of a K-fold cross-validation
HISTORY_KEYS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds")


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
    """A process's data: the data set once, its splits once per normalization."""

    def __init__(self, data: Dataset, val: int, train_size: int | None):
        self.data, self.val, self.train_size = data, val, train_size
        self._splits: dict[str, Splits] = {}

    def splits(self, normalize: str) -> Splits:
        if normalize not in self._splits:
            self._splits[normalize] = make_splits(self.data, normalize, self.val, self.train_size)
        return self._splits[normalize]


def where() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _record(trial_id: str, history: list[dict], status: str, reason: str | None, seconds: float,
            params: int | None = None) -> dict:
    rows = [{k: r.get(k) for k in HISTORY_KEYS} for r in history]
    last = rows[-1] if rows else {}
    return {"id": trial_id, "status": status, "reason": reason, "history": rows,
            "metrics": {"val_accuracy": last.get("val_accuracy"), "val_loss": last.get("val_loss"),
                        "train_accuracy": last.get("train_accuracy"), "seconds": round(seconds, 3)},
            "params": params, "where": where()}


def run_trial(trial_id: str, options: dict, prepared: Prepared, out: Path | None, device: str,
              report: Callable[[dict], bool] | None = None) -> dict:
    """Train one trial; `report(row)` after each epoch returns False to stop it early. Never raises for a
    trial's own failure (a diverging rate, a bad option): that becomes a failed record."""
    start = time.perf_counter()
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
        return _record(trial_id, history, "stopped_early", None, time.perf_counter() - start, params)
    except UserError as exc:
        return _record(trial_id, history, "failed", str(exc), time.perf_counter() - start)
    except Exception as exc:  # a bug or a resource problem in one trial must not end the sweep
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        return _record(trial_id, history, "failed", f"{exc.__class__.__name__}: {exc} (at {Path(frame.filename).name}:{frame.lineno})",
                       time.perf_counter() - start)
    if out is not None:
        run.save(out / trial_id)
    return _record(trial_id, run.history, "finished", None, time.perf_counter() - start, params)


def cross_validated(model, splits: Splits, options: dict, train: dict):
    """A trial scored by K-fold cross-validation: fold 1's run, its history the folds' mean epoch by epoch
    (what the sweep compares), every fold's score in extras["cv"]."""
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


def run_batched(trials: list[tuple[str, dict]], prepared: Prepared, out: Path | None, device: str) -> list[dict]:
    """Train trials that share a `batch_key` as one program; each gets its own record and run directory."""
    start = time.perf_counter()
    try:
        parsed = [trial_options(options) for _, options in trials]
        splits = prepared.splits(parsed[0][2])
        models = [build_model(m["model"], m["activation"], m["head"], tuple(splits.x_train.shape[1:]),
                              len(splits.classes), t["seed"]) for m, t, _ in parsed]
        first = parsed[0][1]
        runs = fit_many(models, splits, [(t["optimizer"], t["lr"]) for _, t, _ in parsed], epochs=int(first["epochs"]),
                        batch_size=first["batch_size"], drop_last=first["drop_last"], seed=first["seed"], device=device)
    except UserError as exc:
        return [_record(trial_id, [], "failed", str(exc), time.perf_counter() - start) for trial_id, _ in trials]
    seconds = time.perf_counter() - start
    records = []
    for (trial_id, _), run in zip(trials, runs):
        if run.train.get("diverged"):
            lr = run.train["lr"]
            records.append(_record(trial_id, run.history, "failed", f"training diverged: the loss stopped being finite; "
                                                                    f"try a smaller learning rate (e.g. --lr {lr / 10:g})",
                                   seconds))
            continue
        if out is not None:
            run.save(out / trial_id)
        record = _record(trial_id, run.history, "finished", None, seconds, sum(r["params"] for r in run.model.rows))
        record["batched"] = len(trials)
        records.append(record)
    return records


def run_fit_job(job_id: str, job: dict, splits: Splits, out: Path) -> dict:
    """One `fit` call planned by an experiment: the model rebuilt from its config and initial weights, trained on the
    experiment's own splits with its options, saved to out/<job_id> for the driver to load."""
    start = time.perf_counter()
    try:
        config = ModelConfig.from_dict(job["model"])
        model = build_model(config.spec, config.activation, config.head, config.input_shape, config.n_classes, seed=None)
        model.load_state_dict({k: torch.as_tensor(v) for k, v in job["init"].items()})
        run = fit(model, splits, **job["options"])
    except UserError as exc:
        return {"id": job_id, "status": "failed", "reason": str(exc), "seconds": time.perf_counter() - start, "where": where()}
    run.save(out / job_id)
    return {"id": job_id, "status": "finished", "reason": None, "run_dir": str(out / job_id),
            "seconds": time.perf_counter() - start, "where": where()}
