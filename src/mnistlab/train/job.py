"""What `mnistlab train` does, as a function a notebook can call too: options in, a saved run directory out.

`TrainJob` holds what the command line asks for (recipe, model choices, data, training options, output and
what to record); `train_to_dir` checks it all before loading anything, trains with `fit`, records weight
histograms, and saves the run. The command prints what `say` receives. Anything else that watches the epochs
(the command's TensorBoard log, which draws figures and so sits above train/) comes in as a `Watch`: made from
the model and data once they exist, called after every epoch, closed with the run.
"""
from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ..data.dataset import Dataset
from ..data.formats import ReadOptions
from ..data.sources import load_dataset
from ..data.splits import Splits
from ..errors import UserError, named
from ..fileio import check_space
from ..models import Net, summary_text
from ..progress import Progress
from ..tables import pct
from .config import TrainConfig
from .divergence import divergence_warning
from .init import check_init
from .loop import fit
from .recipes import Choices, get_recipe, prepare, settle
from .run import Run, default_run_dir, reserve_out_dir, run_bytes
from .weights import WeightRecorder


class Watcher(Protocol):
    """Called after every epoch with fit's row and the model; closed once with the run (None if training failed)."""

    def __call__(self, row: dict, model: Net) -> None: ...

    def close(self, run: Run | None) -> None: ...


Watch = Callable[[Net, Splits, Dataset], Watcher]  # makes a Watcher once the model and the data exist


@dataclass
class TrainJob:
    """One `mnistlab train`: each None is the recipe's value (or the command's default)."""

    recipe: str = "default"
    choices: Choices = field(default_factory=Choices)  # model, activation, head, normalize, val, train_size
    options: dict = field(default_factory=dict)  # TrainConfig fields given; the recipe fills the rest
    dataset: str = "mnist"
    data_dir: str | None = None  # --data PATH: read this instead of the registered set
    read: ReadOptions | None = None  # how to read a CSV or image folder at data_dir
    out: str | Path | None = None  # default runs/<date>-<time>
    record_weights: bool = False  # a weight histogram after every epoch, not only before and after

    def config(self) -> TrainConfig:
        """The settled training options; refuses bad options, layer tokens and sizes before anything loads."""
        cfg = TrainConfig(**settle(self.recipe, self.choices.model or get_recipe(self.recipe).model, self.options))
        cfg.check()
        for name, low in (("val", 0), ("train_size", 1)):
            value = getattr(self.choices, name)
            if value is not None and value < low:
                raise UserError(f"{named(name, value)}: must be at least {low}")
        return cfg


def epoch_line(row: dict, epochs: float) -> str:
    """One epoch as the command prints it."""
    epochs = math.ceil(epochs)  # the last epoch of a fractional count is a short one
    val = f"  val {row['val_loss']:.4f} / {pct(row['val_accuracy'])}" if row["val_loss"] is not None else ""
    return (f"epoch {row['epoch']:>{len(str(epochs))}}/{epochs}  train loss {row['train_loss']:.4f} acc {pct(row['train_accuracy'])}"
            f"{val}  test loss {row['test_loss']:.4f} acc {pct(row['test_accuracy'])}  ({row['seconds']:.1f}s)")


def train_to_dir(job: TrainJob, say: Callable[[str], None] = lambda line: None, progress: Progress | None = None,
                 watch: Sequence[Watch] = ()) -> dict:
    """Train `job` and save the run directory; the command's --json payload (run_dir, data, model, train, history...)."""
    cfg = job.config()
    choices = job.choices
    classes = check_init(cfg.init, choices.model, choices.activation, choices.head) if cfg.init else None  # before the data
    out = reserve_out_dir(job.out or default_run_dir())  # refused before training, held until the process ends
    progress = progress or Progress(False)
    started = time.perf_counter()
    ds = load_dataset(job.dataset, job.data_dir, job.read)
    if classes is not None:  # labels matched to the run's classes by name: a folder of some of them trains those
        ds = ds.as_classes(classes, f"the run {cfg.init}")
    splits, model = prepare(job.recipe, ds, job.choices, cfg.seed, cfg.device)
    info = splits.info
    check_space(out, run_bytes(model))  # a full disk is found before training, not after
    say(f"data: {ds.name} from {ds.source} ({ds.path}): {info['n_train']} train / {info['n_val']} val / "
        f"{info['n_test']} test images, normalize {splits.normalizer.mode}")
    say(summary_text(model))
    weights = WeightRecorder(model, every_epoch=job.record_weights)  # epoch 0 always: init vs trained for every run
    watchers = [make(model, splits, ds) for make in watch]

    def on_epoch(row: dict, net) -> None:
        progress.printer(say)(epoch_line(row, cfg.epochs))
        weights(row, net)
        for watcher in watchers:
            watcher(row, net)

    prepared = time.perf_counter()
    run = None
    try:
        run = fit(model, splits, recipe=job.recipe, progress=progress, on_epoch=on_epoch, **job.options)
    finally:
        progress.close()
        for watcher in watchers:
            watcher.close(run)  # event files are logs: what was written before a failure stays readable
    trained = time.perf_counter()
    run.extras["weight_histograms"] = weights.record
    run.save(out)
    warn_diverged(run, out)
    timing = {"data_s": round(prepared - started, 3), "fit_s": round(trained - prepared, 3),
              "save_s": round(time.perf_counter() - trained, 3)}  # fit_s: warm-up, capture, training and evaluation
    return _finished(run, out, job.recipe, info, timing, say)


def _finished(run: Run, out: Path, recipe: str, info: dict, timing: dict, say: Callable[[str], None]) -> dict:
    total = sum(r["seconds"] for r in run.history)
    device = run.device.type
    graphs = f", CUDA graphs {run.train['capture']}" if device == "cuda" else ""
    say(f"test accuracy {pct(run.final['test_accuracy'])} after {run.train['epochs_trained']:g} epoch(s), "
        f"{total:.1f} s of training on {device} ({run.train['precision']}{graphs})")
    cal = run.calibration
    if cal:
        say(f"temperature {cal['temperature']:.3f} fitted on the {cal['n_val']:,} validation images: their expected "
            f"calibration error {pct(cal['val_ece_before'])} -> {pct(cal['val_ece_after'])}")
    for line in (f"run saved to {out}", "next:", f"  mnistlab eval {out}", f"  mnistlab predict {out} my_digit.png"):
        say(line)
    return {"run_dir": str(out), "recipe": recipe,
            "data": {k: info[k] for k in ("name", "source", "n_train", "n_val", "n_test")},
            "model": run.model.config.to_dict(), "train": run.train, "history": run.history, "final": run.final,
            "diverged": run.diverged is not None, "calibration": run.calibration, "train_seconds": total, "timing": timing}


def warn_diverged(run: Run, where) -> None:
    """A diverged run is kept, with a warning wherever its numbers are shown (`train`, `eval`)."""
    if run.diverged:
        warnings.warn(divergence_warning(str(where), run.diverged), stacklevel=2)
