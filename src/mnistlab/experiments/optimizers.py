"""L5: SGD, RMSprop and Adam at six learning rates; all 18 models train in one batched program."""
from __future__ import annotations

import numpy as np

from ..mpl import pyplot
from .context import Context
from .registry import experiment
from .settings import L5_MODEL
from .setups import l5_dataset, l5_splits, l5_train

TITLE = "L5: SGD, RMSprop, Adam x 6 log-spaced learning rates 1e-4..1e-1 (mean test accuracy of the last 10 epochs)"
OPTIMIZERS = ("sgd", "rmsprop", "adam")
RATES = tuple(float(r) for r in np.logspace(-4, -1, 6))
LAST = 10


@experiment("optimizers", TITLE, cpu_seconds=302, batched=True)
def run(ctx: Context) -> None:
    from ..models import build_model  # torch: `experiment run --help` reads this module, the experiment trains with it

    splits = l5_splits(l5_dataset(ctx))
    train = l5_train(ctx)
    settings = [(name, lr) for name in OPTIMIZERS for lr in RATES]
    models = [build_model(**L5_MODEL, seed=ctx.seed) for _ in settings]
    ctx.say(f"  training {len(models)} models together")
    ctx.planned = 1
    ctx.begin(f"{len(models)} models together")
    runs = ctx.fit_many(models, splits, settings, epochs=train["epochs"], batch_size=train["batch_size"],
                        drop_last=train["drop_last"])
    seconds = sum(row["seconds"] + row["eval_seconds"] for row in runs[0].history)
    last = min(LAST, train["epochs"])
    for (name, lr), r in zip(settings, runs):
        condition = f"{name}-lr{lr:.2g}"
        tail = [row["test_accuracy"] for row in r.history[-last:]]
        score = float(np.mean(tail))
        ctx.record(condition, {"model": r.model.config.to_dict(), "train": r.train}, r, seconds / len(runs),
                   {"optimizer": name, "lr": lr, f"mean_test_accuracy_last_{last}": score})
        ctx.summary[condition] = score
        ctx.table.append({"optimizer": name, "lr": f"{lr:.2g}", f"test_accuracy (last {last} epochs)": score,
                          "diverged": r.diverged is not None and not r.diverged.finite})
    ctx.say(f"  {seconds:.1f}s for all {len(runs)}")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for name in OPTIMIZERS:
        ax.plot(RATES, [ctx.summary[f"{name}-lr{lr:.2g}"] for lr in RATES], "o-", label=name)
    ax.set_xscale("log"), ax.set_xlabel("learning rate"), ax.set_ylabel(f"mean test accuracy, last {last} epochs")
    ax.set_ylim(0, 1), ax.grid(alpha=0.3), ax.legend()
    ctx.figure("optimizers.png", fig)
