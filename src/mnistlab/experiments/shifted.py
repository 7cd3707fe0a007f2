"""L5: train on normal images, test on images rolled horizontally by -10..+10 pixels; FFN and CNN."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..data.transforms import roll_horizontal
from ..mpl import pyplot
from .context import Context
from .plots import bars
from .registry import experiment
from .settings import L5_CNN, L5_MODEL
from .setups import l5_cnn_train, l5_dataset, l5_splits, l5_train

if TYPE_CHECKING:  # torch's: `experiment run --help` reads this module
    from ..train.run import Run

TITLE = "L5: test images rolled horizontally by random -10..+10 px; FFN and CNN"
MAX_SHIFT, SHIFT_SEED = 10, 0


def accuracy_of(run: Run, images, labels) -> float:
    classes, _ = run.predict(images)
    return float((classes == labels).mean())


@experiment("shifted", TITLE, cpu_seconds=55, shares=("L5_MODEL", "L5_CNN"))
def run(ctx: Context) -> None:
    ds = l5_dataset(ctx)
    rolled = roll_horizontal(ds.test_images, MAX_SHIFT, SHIFT_SEED)
    ctx.notes["shift"] = {"max_shift": MAX_SHIFT, "seed": SHIFT_SEED, "wrap_around": True}
    splits = l5_splits(ds)
    ctx.planned = 2
    for net, model, train in (("ffn", L5_MODEL, l5_train(ctx)), ("cnn", L5_CNN, l5_cnn_train(ctx))):
        run_ = ctx.fit(net, model, splits, **train)
        original, shifted = accuracy_of(run_, ds.test_images, ds.test_labels), accuracy_of(run_, rolled, ds.test_labels)
        ctx.configurations[-1]["final"]["shifted_test_accuracy"] = shifted
        ctx.summary[f"{net}-original"], ctx.summary[f"{net}-shifted"] = original, shifted
        ctx.table.append({"model": net, "spec": model["spec"], "epochs": train["epochs"],
                          "train_accuracy": run_.final["train_accuracy"], "test_accuracy": original,
                          "shifted_test_accuracy": shifted})
        ctx.say(f"  {net}: shifted test accuracy {100 * shifted:.2f}%")
    bars(ctx, "shifted.png", ctx.summary, "horizontally shifted test images", {"ffn-original": 0.95, "ffn-shifted": 0.33})
    plt = pyplot()
    fig, axes = plt.subplots(2, 6, figsize=(9, 3.2))
    for i in range(6):
        for row, images in enumerate((ds.test_images, rolled)):
            axes[row][i].imshow(images[i], cmap="gray"), axes[row][i].axis("off")
    axes[0][0].set_title("original", fontsize=8, loc="left"), axes[1][0].set_title("rolled", fontsize=8, loc="left")
    ctx.figure("shifted-examples.png", fig)
