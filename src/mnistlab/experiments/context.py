"""What an experiment runs in: its options, the configurations it trained, and its summary, table and figures.

An experiment module is a `run(ctx)` that trains through `ctx.fit` (or the batched trainer, announced
with `ctx.begin` and recorded with `ctx.record`), then fills `ctx.summary` (condition -> final test
accuracy), `ctx.table` (rows for the printed table) and `ctx.figure(...)`. `run_experiment` in the
registry turns that into results.json, PNGs and a printed table.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..data.sources import load_dataset
from ..fileio import save_figure
from ..mpl import pyplot
from ..progress import Progress
from .settings import LECTURE_TRAIN

if TYPE_CHECKING:  # torch's: an experiment module is read by `experiment run --help`, which lists it without torch
    import torch

    from ..data.dataset import Dataset
    from ..data.splits import Splits
    from ..models import Net
    from ..train.run import Run


@dataclass
class Context:
    """One experiment run: options in, configurations, summary, table and figures out."""

    name: str
    quick: bool
    out: Path
    device: torch.device
    seed: int = 0
    say: Callable[[str], None] = lambda line: None
    configurations: list[dict] = field(default_factory=list)
    summary: dict[str, float] = field(default_factory=dict)
    table: list[dict] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    notes: dict = field(default_factory=dict)  # experiment-specific records (ranges, distributions...)
    options: dict = field(default_factory=dict)  # experiment-specific options (missing-class: digit)
    dataset: str = "mnist"
    data_dir: str | None = None
    capture: str = "auto"  # CUDA graphs for every training run (TrainConfig.capture)
    trainer: Callable[..., Run] | None = None  # what `fit` trains with: None for `mnistlab.fit`, or an executor's (replay.py)
    progress: Progress = field(default_factory=lambda: Progress(False))
    planned: int | None = None  # trainings the experiment will start (for "configuration 2/4" on the status line)
    started: int = 0

    def load(self) -> Dataset:
        """The experiment's data set (full MNIST by default; mnist-sample offline)."""
        return load_dataset(self.dataset, self.data_dir)

    def pick(self, full, quick):
        """The lecture's value, or the quick run's."""
        return quick if self.quick else full

    def begin(self, label: str) -> None:
        """Announce the next training on the status line: which one, of how many."""
        self.started += 1
        of = f"/{self.planned}" if self.planned else ""
        self.progress.begin(f"{self.name}: configuration {self.started}{of} ({label})")

    def epoch(self, epoch: int, epochs: float) -> None:
        """Show an epoch of the current training on the status line (also the batched trainer's `on_epoch`)."""
        self.progress.show(f"epoch {epoch}/{epochs:g}", epoch / epochs)

    def fit(self, condition: str, model: Net | dict, splits: Splits, record: dict | None = None,
            on_epoch: Callable[[dict, Net], None] | None = None, **options) -> Run:
        """Train one configuration with `mnistlab.fit` and record it under `condition`."""
        # torch's models and training loop, loaded when an experiment trains (see TYPE_CHECKING above)
        from ..models import build_model
        from ..train.loop import fit
        from ..train.memo import remembered

        if isinstance(model, dict):
            model = build_model(**model, input_shape=tuple(splits.x_train.shape[1:]), n_classes=len(splits.classes),
                                seed=self.seed)
        options = {"device": str(self.device), "seed": self.seed, "capture": self.capture, **LECTURE_TRAIN, **options}
        epochs = options.get("epochs")
        self.begin(condition)

        def epoch_done(row: dict, net: Net) -> None:
            if epochs:
                self.epoch(row["epoch"], epochs)
            if on_epoch is not None:
                on_epoch(row, net)

        start = time.perf_counter()
        train = lambda: [(self.trainer or fit)(model, splits, on_epoch=epoch_done, **options)]  # noqa: E731
        # An experiment's own callback must see every epoch, and an executor's trainer keeps its own record.
        [run], reused = (remembered("fit", [model], splits, options, train) if on_epoch is None and self.trainer is None
                         else (train(), False))
        seconds = time.perf_counter() - start
        self.record(condition, {"model": model.config.to_dict(), "train": run.train}, run, seconds,
                    {**(record or {}), **({"reused": True} if reused else {})})
        self.say(f"  {condition}: test accuracy {100 * run.final['test_accuracy']:.2f}%  "
                 f"(train {100 * run.final['train_accuracy']:.2f}%, "
                 f"{'the same training as before, reused' if reused else f'{seconds:.1f}s'})")
        return run

    def fit_many(self, models: list[Net], splits: Splits, optimizers: list[tuple[str, float]], **options) -> list[Run]:
        """Train `models` together with `mnistlab.train.fit_many` (model k with optimizers[k]), on this run's device,
        seed and capture setting; an identical earlier call's runs are reused."""
        # torch's batched trainer (see fit)
        from ..train.many import fit_many
        from ..train.memo import remembered

        options = {"device": str(self.device), "seed": self.seed, "capture": self.capture, **options}
        runs, _ = remembered("fit_many", models, splits, {**options, "optimizers": optimizers},
                             lambda: fit_many(models, splits, optimizers, on_epoch=self.epoch, **options))
        return runs

    def record(self, condition: str, settings: dict, run: Run, seconds: float, extra: dict | None = None) -> None:
        """Add one trained configuration (its settings, history, final metrics, data and class names)."""
        history = run.history
        final = {k: v for k, v in history[-1].items() if k not in ("epoch", "seconds", "eval_seconds")} if history else {}
        self.configurations.append({"condition": condition, "settings": settings, "history": history, "final": final,
                                    "seconds": round(seconds, 3), "device": self.device.type, "data": run.data,
                                    "classes": list(run.classes), "seed": self.seed, **(extra or {})})

    def figure(self, filename: str, fig) -> Path:
        """Save a matplotlib figure atomically as PNG in the output folder and close it."""
        path = save_figure(fig, self.out / filename, dpi=100, bbox_inches="tight")
        pyplot().close(fig)
        self.figures.append(str(path))
        return path
