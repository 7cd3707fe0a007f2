"""L1/L2: what longer training buys. One run per network, read after the shorter and the longer count."""
from __future__ import annotations

from .context import Context
from .plots import curves
from .registry import experiment
from .settings import L1_MODEL, L1_TRAIN, L1_VAL, L2_TRAIN, L2_TWO_CONV, QUICK_TRAIN_IMAGES
from .setups import full_mnist_splits
from .tables import at_epoch

TITLE = "L1's network at 10 vs 20 epochs; L2's 3 vs 10 epochs"


@experiment("epochs", TITLE, cpu_seconds=189, shares=("L2_TWO_CONV",))
def run(ctx: Context) -> None:
    l1 = full_mnist_splits(ctx, L1_VAL, QUICK_TRAIN_IMAGES)
    l2 = full_mnist_splits(ctx, 0, QUICK_TRAIN_IMAGES)
    ctx.planned = 2
    plans = (("l1", L1_MODEL, L1_TRAIN, l1, ctx.pick((10, 20), (5, 10))), ("l2", L2_TWO_CONV, L2_TRAIN, l2, (3, 10)))
    for net, model, train, splits, counts in plans:
        run_ = ctx.fit(net, model, splits, epochs=counts[-1], **train)
        for epochs in counts:
            row = at_epoch(run_, epochs)
            ctx.summary[f"{net}-{epochs}"] = row["test_accuracy"]
            ctx.table.append({"condition": f"{net}-{epochs}", "model": model["spec"], "epochs": epochs,
                              "train_accuracy": row["train_accuracy"], "val_accuracy": row["val_accuracy"],
                              "test_accuracy": row["test_accuracy"]})
    curves(ctx, "epochs.png", ctx.configurations, ("train_accuracy", "test_accuracy"), "longer training")
