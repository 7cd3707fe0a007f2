"""L2: from linear layers to convolutions, three epochs each (the two-conv net also at ten)."""
from __future__ import annotations

from .context import Context
from .plots import curves
from .registry import experiment
from .settings import L2_TRAIN, L2_TWO_CONV, QUICK_TRAIN_IMAGES
from .setups import full_mnist_splits
from .tables import at_epoch

TITLE = "L2 steps 1-4: linear 784-600-600-10, the same with ReLU, one conv, two convs (3 epochs; two convs also at 10)"
MODELS = (("linear", dict(spec="f600 f600", activation="linear", head="logits"), 3),
          ("relu", dict(spec="f600 f600", activation="relu", head="logits"), 3),
          ("one-conv", dict(spec="c10k7", activation="relu", head="logits"), 3),
          ("two-conv", L2_TWO_CONV, 10))
LECTURE = {"linear": 0.80, "relu": 0.70, "one-conv": 0.86, "two-conv": 0.89, "two-conv-10": 0.95}


@experiment("linear-relu-conv", TITLE, cpu_seconds=172, shares=("L2_TWO_CONV",))
def run(ctx: Context) -> None:
    splits = full_mnist_splits(ctx, 0, QUICK_TRAIN_IMAGES)
    ctx.planned = len(MODELS)
    for name, model, epochs in MODELS:
        run_ = ctx.fit(name, model, splits, epochs=epochs, **L2_TRAIN)
        readings = {name: at_epoch(run_, 3)} if epochs == 3 else {name: at_epoch(run_, 3), f"{name}-10": at_epoch(run_, 10)}
        for condition, row in readings.items():
            ctx.summary[condition] = row["test_accuracy"]
            ctx.table.append({"condition": condition, "model": model["spec"], "activation": model["activation"],
                              "epochs": row["epoch"], "train_loss": row["train_loss"], "test_loss": row["test_loss"],
                              "test_accuracy": row["test_accuracy"], "lecture": f"~{100 * LECTURE[condition]:.0f}%"})
    curves(ctx, "linear-relu-conv.png", ctx.configurations, ("train_loss", "test_loss", "test_accuracy"),
           "L2: linear, ReLU, one conv, two convs")
