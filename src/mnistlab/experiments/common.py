"""What every experiment shares: its context, the lectures' data setups and settings, results.json.

An experiment module is a `run(ctx)` that trains through `ctx.fit` (or the batched
trainer), then fills `ctx.summary` (condition -> final test accuracy), `ctx.table`
(rows for the printed table) and `ctx.figure(...)`. `run_experiment` in the
registry turns that into results.json, PNGs and a printed table.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..data.sources import Dataset, load_dataset
from ..data.splits import Splits, make_splits
from ..data.transforms import Normalizer
from ..fileio import save_figure
from ..models import Net, build_model
from ..train.loop import fit
from ..train.run import Run

# L5: a 20,000-image MNIST sample split 90/10, batch 32, SGD lr 0.01, 784-64-32-10, log-softmax + NLL.
L5_MODEL = dict(spec="f64 f32", activation="relu", head="log_softmax")
L5_TRAIN = dict(epochs=60, batch_size=32, optimizer="sgd", lr=0.01, drop_last=True)
L5_SAMPLE, L5_QUICK_SAMPLE, L5_SAMPLE_SEED = 20_000, 5_000, 0
L5_QUICK_EPOCHS = 15
# Precision is fit's "auto": fp32 for every FFN (as in the lectures); bf16 autocast for CNNs only where the
# device computes bf16 natively. Each configuration records the precision it used.


@dataclass
class Context:
    """One experiment run: options in, configurations, summary, table and figures out."""

    name: str
    quick: bool
    out: Path
    device: torch.device
    seed: int = 0
    say: Callable[[str], None] = print
    configurations: list[dict] = field(default_factory=list)
    summary: dict[str, float] = field(default_factory=dict)
    table: list[dict] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    notes: dict = field(default_factory=dict)  # experiment-specific records (ranges, distributions...)
    options: dict = field(default_factory=dict)  # experiment-specific options (missing-class: digit)
    dataset: str = "mnist"
    data_dir: str | None = None
    trainer: Callable[..., Run] = fit  # what `fit` trains with: `mnistlab.fit`, or an executor's (mnistlab.sweep.experiments)

    def load(self) -> Dataset:
        """The experiment's data set (full MNIST by default; mnist-sample offline)."""
        return load_dataset(self.dataset, self.data_dir)

    def pick(self, full, quick):
        """The lecture's value, or the quick run's."""
        return quick if self.quick else full

    def fit(self, condition: str, model: Net | dict, splits: Splits, record: dict | None = None, **options) -> Run:
        """Train one configuration with `mnistlab.fit` and record it under `condition`."""
        if isinstance(model, dict):
            model = build_model(**model, input_shape=tuple(splits.x_train.shape[1:]), n_classes=len(splits.classes),
                                seed=self.seed)
        options = {"device": str(self.device), "seed": self.seed, **options}
        start = time.perf_counter()
        run = self.trainer(model, splits, **options)
        seconds = time.perf_counter() - start
        self.record(condition, {"model": model.config.to_dict(), "train": run.train}, run.history, seconds,
                    run.data, record)
        self.say(f"  {condition}: test accuracy {100 * run.final['test_accuracy']:.2f}%  "
                 f"(train {100 * run.final['train_accuracy']:.2f}%, {seconds:.1f}s)")
        return run

    def record(self, condition: str, settings: dict, history: list[dict], seconds: float, data: dict,
               extra: dict | None = None) -> None:
        final = {k: v for k, v in history[-1].items() if k not in ("epoch", "seconds", "eval_seconds")} if history else {}
        self.configurations.append({"condition": condition, "settings": settings, "history": history, "final": final,
                                    "seconds": round(seconds, 3), "device": self.device.type, "data": data,
                                    "seed": self.seed, **(extra or {})})

    def figure(self, filename: str, fig) -> Path:
        """Save a matplotlib figure atomically as PNG in the output folder and close it."""
        import matplotlib.pyplot as plt

        path = save_figure(fig, self.out / filename, dpi=100, bbox_inches="tight")
        plt.close(fig)
        self.figures.append(str(path))
        return path


def pyplot():
    """matplotlib's pyplot on the Agg backend, imported only when a figure is drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def l5_dataset(ctx: Context) -> Dataset:
    """L5's MNIST sample: 20,000 images (5,000 with --quick) drawn with a fixed seed, split 90/10.

    Drawn from full MNIST train; offline the pool is all of mnist-sample (5,000 images).
    """
    ds = ctx.load()
    pool_x, pool_y = ds.train_images, ds.train_labels
    if ds.source == "package":  # mnist-sample: use every image it has
        pool_x, pool_y = np.concatenate([ds.train_images, ds.test_images]), np.concatenate([ds.train_labels, ds.test_labels])
    size = min(ctx.pick(L5_SAMPLE, L5_QUICK_SAMPLE), len(pool_y))
    pick = np.random.default_rng(L5_SAMPLE_SEED).permutation(len(pool_y))[:size]
    n_train = round(0.9 * size)
    sample = Dataset(ds.name, ds.source, ds.path, pool_x[pick[:n_train]], pool_y[pick[:n_train]],
                     pool_x[pick[n_train:]], pool_y[pick[n_train:]], ds.classes)
    ctx.notes["data"] = {"dataset": ds.name, "source": ds.source, "pool": int(len(pool_y)), "sample": size,
                         "sample_seed": L5_SAMPLE_SEED, "n_train": n_train, "n_test": size - n_train}
    return sample


def l5_train(ctx: Context) -> dict:
    """L5's training settings (fewer epochs with --quick)."""
    return {**L5_TRAIN, "epochs": ctx.pick(L5_TRAIN["epochs"], L5_QUICK_EPOCHS)}


def splits_from(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray, info: dict,
                train_norm: str = "unit", test_norm: str | None = None) -> Splits:
    """Splits from raw pixels; `test_norm` other than train's deliberately mismatches the two sets."""
    norm = Normalizer.fit(train_norm, train_x)
    test = norm if test_norm in (None, train_norm) else Normalizer.fit(test_norm, test_x)
    y = lambda a: torch.as_tensor(a, dtype=torch.int64)  # noqa: E731
    return Splits(norm(train_x), y(train_y), test(test_x), y(test_y), norm,
                  info={**info, "n_train": int(len(train_y)), "n_test": int(len(test_y)),
                        "normalize": norm.to_dict(), "normalize_test": test.to_dict()})


def l5_splits(ds: Dataset, train_norm: str = "unit", test_norm: str | None = None) -> Splits:
    return splits_from(ds.train_images, ds.train_labels, ds.test_images, ds.test_labels, ds.describe(),
                       train_norm, test_norm)


def full_mnist_splits(ctx: Context, val: int, quick_train: int, batch_note: str = "") -> Splits:
    """The L1/L2 setup: full MNIST train (minus `val`) and test; --quick keeps `quick_train` training images."""
    ds = ctx.load()
    if ds.source == "package":  # offline: mnist-sample, with a proportional validation split
        val = val and len(ds.train_labels) // 6
    train_size = min(quick_train, len(ds.train_labels) - val) if ctx.quick else None
    splits = make_splits(ds, "unit", val, train_size)
    if ctx.quick:  # a quick run evaluates on 2,000 test images
        splits.x_test, splits.y_test = splits.x_test[:2000], splits.y_test[:2000]
        if splits.x_val is not None:
            splits.x_val, splits.y_val = splits.x_val[:2000], splits.y_val[:2000]
    ctx.notes["data"] = {**splits.info, "n_test": int(len(splits.y_test))}
    return splits


def accuracy_of(run: Run, images: np.ndarray, labels: np.ndarray) -> float:
    classes, _ = run.predict(images)
    return float((classes == labels).mean())


def final_columns(run: Run) -> dict:
    f = run.final
    return {"train_accuracy": f["train_accuracy"], "test_accuracy": f["test_accuracy"], "test_loss": f["test_loss"]}


def format_table(rows: list[dict]) -> str:
    """A plain text table; floats in [0, 1] under an accuracy column print as percentages."""
    if not rows:
        return ""
    columns = list(rows[0])
    for row in rows[1:]:
        columns += [c for c in row if c not in columns]

    def cell(column: str, value) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            if "accuracy" in column or column.startswith("fraction") or column.endswith("%"):
                return f"{100 * value:.2f}%"
            return f"{value:.4g}"
        return str(value)

    cells = [[cell(c, row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join(lines)


# The CNN the lectures only announce for scrambled/shifted MNIST: two conv blocks and a global max-pool
# (m7 over the 7x7 maps), so where a feature appears matters little. Trained like L5's FFN but for fewer
# epochs: it converges in far fewer passes and costs ~10x more per pass.
L5_CNN = dict(spec="c16k5p2 m2 c32k5p2 m2 m7", activation="relu", head="log_softmax")
L5_CNN_EPOCHS, L5_CNN_QUICK_EPOCHS = 10, 5


def l5_cnn_train(ctx: Context) -> dict:
    return {**L5_TRAIN, "epochs": ctx.pick(L5_CNN_EPOCHS, L5_CNN_QUICK_EPOCHS)}


# L1: c10k5s2 c20k7s2 f5, tanh, Adam, batch 100, MNIST 50k/10k/10k.
L1_MODEL = dict(spec="c10k5s2 c20k7s2 f5", activation="tanh", head="logits")
L1_TRAIN = dict(batch_size=100, optimizer="adam", lr=1e-3)
L1_VAL = 10_000
# L2: full MNIST train/test, SGD, cross entropy, 3 epochs unless stated.
L2_TRAIN = dict(batch_size=64, optimizer="sgd", lr=0.001)  # the rate that gives L2's ~80% / ~70% at 3 epochs
L2_TWO_CONV = dict(spec="c10k7 c55k2", activation="relu", head="logits")
QUICK_TRAIN_IMAGES = 5_000


def at_epoch(run: Run, epoch: int) -> dict:
    """The history row after `epoch` epochs (without a schedule, a longer run passes through the shorter one)."""
    return run.history[min(epoch, len(run.history)) - 1]
