"""L1's network, then a small search of filter counts and sizes for L2's 98% challenge (chosen on validation)."""
from __future__ import annotations

from .context import Context
from .plots import curves
from .registry import experiment
from .settings import L1_MODEL, L1_TRAIN, L1_VAL, QUICK_TRAIN_IMAGES
from .setups import full_mnist_splits

TITLE = "L1's network c10k5s2 c20k7s2 f5 (tanh, Adam, batch 100, 50k/10k/10k) and a filter search for 98%"
SEARCH = ("c10k5s2 c20k7s2 f64", "c20k5s2 c40k7s2 f64", "c32k5s2 c64k3s2 f64", "c32k5 m2 c64k5s2 f64")
EPOCHS, TARGET = 10, 0.98


@experiment("conv-layers", TITLE, cpu_seconds=230)
def run(ctx: Context) -> None:
    splits = full_mnist_splits(ctx, L1_VAL, QUICK_TRAIN_IMAGES)
    epochs = ctx.pick(EPOCHS, 2)
    candidates = [("l1-network", L1_MODEL)] + [(spec, {**L1_MODEL, "spec": spec}) for spec in ctx.pick(SEARCH, SEARCH[:2])]
    ctx.planned = len(candidates)
    for condition, model in candidates:
        run_ = ctx.fit(condition, model, splits, epochs=epochs, **L1_TRAIN)
        f = run_.final
        ctx.summary[condition] = f["test_accuracy"]
        ctx.table.append({"condition": condition, "model": model["spec"], "params": sum(r["params"] for r in run_.model.rows),
                          "epochs": epochs, "train_accuracy": f["train_accuracy"], "val_accuracy": f["val_accuracy"],
                          "test_accuracy": f["test_accuracy"]})
    searched = [r for r in ctx.table if r["condition"] != "l1-network"]
    best = max(searched, key=lambda r: r["val_accuracy"])
    ctx.notes["best"] = {"model": best["model"], "val_accuracy": best["val_accuracy"], "test_accuracy": best["test_accuracy"],
                         "reaches_98": best["test_accuracy"] >= TARGET}
    ctx.say(f"  best by validation: {best['model']} (test {100 * best['test_accuracy']:.2f}%)")
    curves(ctx, "conv-layers.png", ctx.configurations, ("train_loss", "val_accuracy"), "L1's network and the filter search")
