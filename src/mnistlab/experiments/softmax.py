"""L5: the same FFN with a softmax output instead of log-softmax (both with NLL loss)."""
from __future__ import annotations

from .context import Context
from .plots import curves
from .registry import experiment
from .settings import L5_MODEL
from .setups import l5_dataset, l5_splits, l5_train
from .tables import final_columns

TITLE = "L5: softmax vs log-softmax outputs, same model and training"


@experiment("softmax", TITLE, cpu_seconds=43, shares=("L5_MODEL",))
def run(ctx: Context) -> None:
    splits = l5_splits(l5_dataset(ctx))
    ctx.planned = 2
    for condition, head in (("log-softmax", "log_softmax"), ("softmax", "softmax")):
        run_ = ctx.fit(condition, {**L5_MODEL, "head": head}, splits, **l5_train(ctx))
        ctx.summary[condition] = run_.final["test_accuracy"]
        ctx.table.append({"condition": condition, "head": head, "loss": run_.train["loss"], **final_columns(run_)})
    curves(ctx, "softmax.png", ctx.configurations, ("train_loss", "test_accuracy"),
           "softmax vs log-softmax output (NLL loss)")
