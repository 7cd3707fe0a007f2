"""L5: accuracy against the number of hidden layers (1-3) and their width (50-250 units)."""
from __future__ import annotations

import time

from ..mpl import pyplot
from .context import Context
from .registry import experiment
from .settings import L5_MODEL
from .setups import l5_dataset, l5_splits, l5_train

TITLE = "L5: 1-3 hidden layers x 50-250 units step 50"


@experiment("breadth-depth", TITLE, cpu_seconds=530, batched=True)
def run(ctx: Context) -> None:
    from ..models import build_model  # torch: `experiment run --help` reads this module, the experiment trains with it

    splits = l5_splits(l5_dataset(ctx))
    train = l5_train(ctx)
    depths, widths = (1, 2, 3), ctx.pick((50, 100, 150, 200, 250), (50, 150, 250))
    ctx.planned = len(depths)
    for depth in depths:  # one batched call per depth: widths of similar cost stack together (stack_groups)
        models = [build_model(" ".join([f"f{w}"] * depth), L5_MODEL["activation"], L5_MODEL["head"], seed=ctx.seed)
                  for w in widths]
        ctx.say(f"  depth {depth}: training widths {', '.join(map(str, widths))} together")
        ctx.begin(f"depth {depth}, {len(widths)} widths together")
        start = time.perf_counter()
        runs = ctx.fit_many(models, splits, [(train["optimizer"], train["lr"])] * len(models), epochs=train["epochs"],
                            batch_size=train["batch_size"], drop_last=train["drop_last"])
        seconds = time.perf_counter() - start
        for width, r in zip(widths, runs):
            condition = f"layers{depth}-units{width}"
            ctx.record(condition, {"model": r.model.config.to_dict(), "train": r.train}, r, seconds / len(runs),
                       {"layers": depth, "units": width})
            ctx.summary[condition] = r.final["test_accuracy"]
            ctx.table.append({"layers": depth, "units": width, "train_accuracy": r.final["train_accuracy"],
                              "test_accuracy": r.final["test_accuracy"]})
        ctx.say(f"  depth {depth}: {seconds:.1f}s")
    draw(ctx, depths, widths)


def draw(ctx: Context, depths, widths) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, key in zip(axes, ("train_accuracy", "test_accuracy")):
        for depth in depths:
            rows = [r for r in ctx.table if r["layers"] == depth]
            ax.plot([r["units"] for r in rows], [r[key] for r in rows], "o-", label=f"{depth} hidden layer(s)")
        ax.set_xlabel("units per hidden layer"), ax.set_title(key.replace("_", " ")), ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy (final epoch)"), axes[0].legend()
    ctx.figure("breadth-depth.png", fig)
