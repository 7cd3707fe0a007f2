"""L5: train without one digit (7 by default), then ask the network what the missing digit is."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..data.splits import make_splits
from ..data.transforms import holdout
from ..mpl import pyplot
from .context import Context
from .registry import Option, experiment
from .settings import L5_MODEL
from .setups import l5_dataset, l5_train

TITLE = "L5: train without 7 (--digit selects another), classify the held-out digit: distribution, examples, probabilities"


@experiment("missing-class", TITLE, cpu_seconds=19,
            options={"digit": Option(7, "the digit left out of training", choices=range(10), metavar="D")})
def run(ctx: Context) -> None:
    digit = int(ctx.options["digit"])
    ds = l5_dataset(ctx)
    # Train on every other digit of the training split; the test split (also without the digit) checks the model works.
    train_x, train_y = holdout(ds.train_images, ds.train_labels, digit)
    test_x, test_y = holdout(ds.test_images, ds.test_labels, digit)
    splits = make_splits(replace(ds, train_images=train_x, train_labels=train_y, test_images=test_x, test_labels=test_y),
                         "unit")
    splits.info["held_out_digit"] = digit
    run_ = ctx.fit(f"without-{digit}", L5_MODEL, splits, **l5_train(ctx))
    # Then classify every image of the held-out digit in the whole sample.
    images = np.concatenate([ds.train_images[ds.train_labels == digit], ds.test_images[ds.test_labels == digit]])
    classes, probs = run_.predict(images)
    counts = np.bincount(classes, minlength=10)
    fractions = counts / counts.sum()
    for d in range(10):
        ctx.summary[f"fraction-as-{d}"] = float(fractions[d])
    ctx.notes["held_out"] = {"digit": digit, "n_images": int(len(images)), "counts": counts.tolist(),
                             "mean_probabilities": probs.mean(0).tolist()}
    ctx.configurations[-1]["held_out"] = ctx.notes["held_out"]
    for d in np.argsort(-counts):
        ctx.table.append({"classified_as": int(d), "count": int(counts[d]), "fraction": float(fractions[d])})
    ctx.say(f"  {len(images)} images of {digit}: " + ", ".join(f"{d}: {100 * fractions[d]:.1f}%" for d in np.argsort(-counts)[:4]))
    draw(ctx, digit, images, classes, probs, fractions)


def draw(ctx: Context, digit: int, images, classes, probs, fractions) -> None:
    plt = pyplot()
    fig = plt.figure(figsize=(12, 6.5))
    grid = fig.add_gridspec(3, 8, hspace=0.6)
    dist = fig.add_subplot(grid[0, :4])
    dist.bar(range(10), fractions, color=["tab:gray" if d == digit else "tab:blue" for d in range(10)])
    dist.set_xticks(range(10)), dist.set_xlabel("predicted class"), dist.set_ylabel("fraction")
    dist.set_title(f"what the network calls the {len(images)} unseen {digit}s")
    mean = fig.add_subplot(grid[0, 5:])
    mean.bar(range(10), probs.mean(0), color="tab:orange")
    mean.set_xticks(range(10)), mean.set_title("mean class probabilities")
    for i in range(8):  # examples with their probabilities
        ax = fig.add_subplot(grid[1, i])
        ax.imshow(images[i], cmap="gray"), ax.axis("off"), ax.set_title(f"-> {classes[i]}", fontsize=9)
        bar = fig.add_subplot(grid[2, i])
        bar.bar(range(10), probs[i], color="tab:blue"), bar.set_ylim(0, 1), bar.set_xticks(range(10))
        bar.tick_params(labelsize=6)
    ctx.figure("missing-class.png", fig)
