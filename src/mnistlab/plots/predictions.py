"""Figures of what a run predicts on the test set: probabilities, confusion, the mistakes it makes."""
from __future__ import annotations

import math

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import ScalarFormatter

from .style import RIGHT, WRONG, new_figure, pct, probability_bars, show_digit


def probs(nums: dict) -> Figure:
    """Each sample's image beside the bar chart of its class probabilities (green: true class, red: a wrong guess)."""
    n, classes = len(nums["indices"]), nums["classes"]
    per_col = 5
    cols = math.ceil(n / per_col)
    rows = min(n, per_col)
    fig = new_figure(5.2 * cols, 1.55 * rows + 0.6)
    axes = fig.subplots(rows, 2 * cols, squeeze=False, width_ratios=[1, 2.6] * cols)
    for k in range(rows * cols):
        image_ax, bar_ax = axes[k % rows, 2 * (k // rows)], axes[k % rows, 2 * (k // rows) + 1]
        if k >= n:
            image_ax.set_axis_off()
            bar_ax.set_axis_off()
            continue
        label, guess = int(nums["labels"][k]), int(nums["predicted"][k])
        show_digit(image_ax, nums["images"][k], f"#{nums['indices'][k]}: {classes[label]}", fontsize=8)
        probability_bars(bar_ax, nums["probs"][k], label, guess, classes, fontsize=7)
        bar_ax.set_title(f"predicted {classes[guess]} ({pct(nums['probs'][k][guess])})", fontsize=8,
                         color=RIGHT if guess == label else WRONG, pad=2)
        if k % rows != rows - 1 and k != n - 1:
            bar_ax.set_xticklabels([])
    fig.suptitle(f"Class probabilities of {n} test images (green: true class, red: wrong prediction)")
    return fig


def confusion(nums: dict) -> Figure:
    """Counts of (true, predicted) on a log colour scale so rare confusions show, and per-class accuracy."""
    matrix, classes = nums["matrix"], nums["classes"]
    k = len(classes)
    fig = new_figure(12, 5.6)
    heat_ax, acc_ax = fig.subplots(1, 2, width_ratios=[1.35, 1])
    shown = heat_ax.imshow(np.maximum(matrix, 0.5), cmap="Blues", norm=LogNorm(vmin=0.5, vmax=max(1, matrix.max())))
    threshold = math.sqrt(max(1, matrix.max()))
    for t in range(k):
        for p in range(k):
            if matrix[t, p]:
                heat_ax.text(p, t, f"{matrix[t, p]}", ha="center", va="center", fontsize=8 if k <= 10 else 6,
                             color="white" if matrix[t, p] > threshold else ("black" if t == p else WRONG))
    heat_ax.set_xticks(range(k), classes, rotation=0 if max(map(len, classes)) <= 2 else 45, ha="center")
    heat_ax.set_yticks(range(k), classes)
    heat_ax.set(xlabel="predicted class", ylabel="true class", title="Confusion matrix (counts)")
    for spine in heat_ax.spines.values():
        spine.set_visible(False)
    bar = fig.colorbar(shown, ax=heat_ax, shrink=0.85, pad=0.01)
    bar.set_label("images (log scale)")
    bar.ax.yaxis.set_major_formatter(ScalarFormatter())
    acc = 100 * nums["per_class_accuracy"]
    order = np.arange(k)[::-1]
    acc_ax.barh(order, acc, color=[RIGHT if a >= 100 * nums["accuracy"] else "#f28e2b" for a in acc])
    acc_ax.axvline(100 * nums["accuracy"], color="black", lw=1, ls="--")
    for y, a, total in zip(order, acc, matrix.sum(1)):
        acc_ax.text(a - 0.3, y, f"{a:.1f}%  (n={total})", va="center", ha="right", fontsize=8, color="white")
    acc_ax.set_yticks(order, classes)
    lo = max(0.0, min(acc.min() - 5, 100 * nums["accuracy"] - 5))
    acc_ax.set(xlim=(lo, 100), xlabel="correct (%)", ylabel="true class",
               title=f"Per-class accuracy (dashed: overall {pct(nums['accuracy'])})")
    errors = nums["n_test"] - int(np.trace(matrix))
    fig.suptitle(f"{nums['n_test']:,} test images: {pct(nums['accuracy'])} correct, {errors:,} mistakes")
    return fig


def errors(nums: dict) -> Figure:
    """Misclassified test images, most confident first, each with its top-3 classes and probabilities."""
    n, classes = len(nums["indices"]), nums["classes"]
    if n == 0:
        fig = new_figure(6, 1.5)
        fig.text(0.5, 0.5, f"No mistakes on {nums['n_test']:,} test images.", ha="center", va="center", fontsize=12)
        return fig
    cols = min(n, 8)
    rows = math.ceil(n / cols)
    fig = new_figure(1.65 * cols, 2.45 * rows + 0.5)
    axes = fig.subplots(rows, cols, squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k >= n:
            ax.set_axis_off()
            continue
        label, guess = int(nums["labels"][k]), int(nums["predicted"][k])
        show_digit(ax, nums["images"][k], f"{classes[label]} → {classes[guess]}", color=WRONG, fontsize=10)
        top = "\n".join(f"{classes[c]}: {pct(p)}" for c, p in zip(nums["top_classes"][k], nums["top_probs"][k]))
        ax.set_xlabel(f"#{nums['indices'][k]}\n{top}", fontsize=7, linespacing=1.1)
    fig.suptitle(f"Most confident mistakes: {min(n, nums['n_errors'])} of {nums['n_errors']:,} errors on "
                 f"{nums['n_test']:,} test images (true → predicted)")
    return fig
