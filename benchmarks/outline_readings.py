"""Digits drawn as their outline, and the reading with the outlined strokes filled (data/outlines.py).

    MNISTLAB_DATA=... python benchmarks/outline_readings.py RUN [--count 10] [--out docs/img/robustness/outlines.png]

The first test digits of each class, hollowed by the tuning suite's `outline` corruption (severity 2: a 1-pixel
outline round each stroke); the top row is what the run reads as drawn, the bottom row the reading `predict`
feeds it (of an image's readings, the one it is surest of), each with the answer and its probability, green where
right. Without full MNIST the package's sample digits are drawn.
"""
from __future__ import annotations

import argparse

import numpy as np

from mnistlab import load_dataset
from mnistlab.fileio import save_figure
from mnistlab.mpl import agg
from mnistlab.robustness.corruptions import corrupt, prepared
from mnistlab.train.run import load_run


def figure(rows: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]], labels: np.ndarray):
    # matplotlib: only this figure needs it
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1.1 * len(labels), 2.6))
    axes = fig.subplots(len(rows), len(labels), squeeze=False)
    for r, (title, images, answers, probs) in enumerate(rows):
        for c, ax in enumerate(axes[r]):
            ax.imshow(images[c], cmap="gray", vmin=0, vmax=255)
            ax.set_xticks([]), ax.set_yticks([])
            ax.set_title(f"{answers[c]} ({probs[c]:.0%})", fontsize=8,
                         color="green" if answers[c] == labels[c] else "red")
        axes[r][0].set_ylabel(title, fontsize=8)
    fig.tight_layout()
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--out", default="docs/img/robustness/outlines.png")
    args = parser.parse_args()
    run, data = load_run(args.run), load_dataset("mnist")
    labels = np.asarray(data.test_labels)
    pick = [int(np.nonzero(labels == k % 10)[0][k // 10]) for k in range(args.count)]
    hollow = corrupt(np.asarray(data.test_images)[pick], "outline", 2)
    rows = []
    for title, images in (("as drawn", hollow), ("predict reads", prepared(hollow, run))):
        answers, probs = run.predict(images)
        rows.append((title, images, answers, probs.max(axis=1)))
    agg()
    print(save_figure(figure(rows, labels[pick]), args.out, dpi=110))


if __name__ == "__main__":
    main()
