"""L5: one fixed permutation of the 784 pixels. The FFN does not care; a CNN, which relies on neighbourhoods, does."""
from __future__ import annotations

import numpy as np

from ..data.dataset import Dataset
from ..data.transforms import scramble
from ..mpl import pyplot
from .context import Context
from .plots import bars
from .registry import experiment
from .settings import L5_CNN, L5_MODEL
from .setups import l5_cnn_train, l5_dataset, l5_splits, l5_train
from .tables import final_columns

TITLE = "L5: one fixed pixel permutation; FFN and CNN"
PERMUTATION_SEED = 0


@experiment("scrambled", TITLE, cpu_seconds=103, shares=("L5_MODEL", "L5_CNN"))
def run(ctx: Context) -> None:
    ds = l5_dataset(ctx)
    mixed = Dataset(ds.name, ds.source, ds.path, scramble(ds.train_images, PERMUTATION_SEED), ds.train_labels,
                    scramble(ds.test_images, PERMUTATION_SEED), ds.test_labels, ds.classes)
    ctx.notes["permutation_seed"] = PERMUTATION_SEED
    ctx.planned = 4
    for net, model, train in (("ffn", L5_MODEL, l5_train(ctx)), ("cnn", L5_CNN, l5_cnn_train(ctx))):
        for variant, data in (("original", ds), ("scrambled", mixed)):
            condition = f"{net}-{variant}"
            run_ = ctx.fit(condition, model, l5_splits(data), **train)
            ctx.summary[condition] = run_.final["test_accuracy"]
            ctx.table.append({"condition": condition, "model": model["spec"], "epochs": train["epochs"],
                              **final_columns(run_)})
    bars(ctx, "scrambled.png", ctx.summary, "scrambled pixels: FFN vs CNN", {"ffn-original": 0.95, "ffn-scrambled": 0.96})
    examples(ctx, ds.test_images[:6], mixed.test_images[:6])


def examples(ctx: Context, original: np.ndarray, mixed: np.ndarray) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(2, len(original), figsize=(1.5 * len(original), 3.2))
    for i in range(len(original)):
        for row, images in enumerate((original, mixed)):
            axes[row][i].imshow(images[i], cmap="gray"), axes[row][i].axis("off")
    axes[0][0].set_title("original", fontsize=8, loc="left"), axes[1][0].set_title("scrambled", fontsize=8, loc="left")
    ctx.figure("scrambled-examples.png", fig)
