"""L5: binarized pixels (> 0 → 1) against graded [0, 1] pixels."""
from __future__ import annotations

from .context import Context
from .plots import curves
from .registry import experiment
from .settings import L5_MODEL
from .setups import l5_dataset, l5_splits, l5_train
from .tables import final_columns

TITLE = "L5: pixels > 0 -> 1 vs graded pixels"


@experiment("binarized", TITLE, cpu_seconds=42, shares=("L5_MODEL",))
def run(ctx: Context) -> None:
    ds = l5_dataset(ctx)
    ctx.planned = 2
    for condition, mode in (("graded", "unit"), ("binarized", "binary")):
        run_ = ctx.fit(condition, L5_MODEL, l5_splits(ds, mode), **l5_train(ctx))
        ctx.summary[condition] = run_.final["test_accuracy"]
        ctx.table.append({"condition": condition, "normalize": mode, **final_columns(run_)})
    curves(ctx, "binarized.png", ctx.configurations, ("train_loss", "test_accuracy"), "graded vs binarized pixels")
