"""L5: train and test normalized with different constants; losses are scale dependent, accuracy less so."""
from __future__ import annotations

from .context import Context
from .plots import curves
from .registry import experiment
from .settings import L5_MODEL
from .setups import l5_dataset, l5_splits, l5_train
from .tables import final_columns

TITLE = "L5: three train/test range conditions; empirical ranges; accuracy and loss curves"
CONDITIONS = (("train-unit-test-unit", "unit", "unit"), ("train-unit-test-raw", "unit", "raw"),
              ("train-raw-test-unit", "raw", "unit"))


@experiment("normalization", TITLE, cpu_seconds=63, shares=("L5_MODEL",))
def run(ctx: Context) -> None:
    ds = l5_dataset(ctx)
    ranges = {}
    ctx.planned = len(CONDITIONS)
    for condition, train_norm, test_norm in CONDITIONS:
        splits = l5_splits(ds, train_norm, test_norm)
        ranges[condition] = {"train": [float(splits.x_train.min()), float(splits.x_train.max())],
                             "test": [float(splits.x_test.min()), float(splits.x_test.max())]}
        ctx.say(f"  {condition}: train range {ranges[condition]['train']}, test range {ranges[condition]['test']}")
        run_ = ctx.fit(condition, L5_MODEL, splits, **l5_train(ctx))
        ctx.summary[condition] = run_.final["test_accuracy"]
        ctx.table.append({"condition": condition, "train_range": fmt(ranges[condition]["train"]),
                          "test_range": fmt(ranges[condition]["test"]), **final_columns(run_)})
    ctx.notes["ranges"] = ranges
    curves(ctx, "normalization.png", ctx.configurations, ("train_loss", "test_loss", "test_accuracy"),
           "normalization mismatch", log_keys=("train_loss", "test_loss"))


def fmt(r: list[float]) -> str:
    return f"[{r[0]:g}, {r[1]:g}]"
