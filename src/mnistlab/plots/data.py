"""Figures of the data before any training (L5's exploration)."""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .style import grid_shape, new_figure, show_digit


def random_digits(nums: dict) -> Figure:
    rows, cols = grid_shape(len(nums["images"]), 8)
    fig = new_figure(1.2 * cols, 1.3 * rows + 0.5)
    axes = fig.subplots(rows, cols, squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k < len(nums["images"]):
            show_digit(ax, nums["images"][k], f"{nums['classes'][nums['labels'][k]]}  (#{nums['indices'][k]})", fontsize=8)
        else:
            ax.set_axis_off()
    fig.suptitle(f"{len(nums['images'])} random training images with their labels")
    return fig


def digit_vector(nums: dict) -> Figure:
    """The image and the same pixels as the flat vector an FFN receives: the rows become bursts along the axis."""
    fig = new_figure(12, 3.2)
    image_ax, vec_ax = fig.subplots(1, 2, width_ratios=[1, 5])
    show_digit(image_ax, nums["image"], f"#{nums['index']}: label {nums['classes'][nums['label']]}")
    v = nums["vector"]
    vec_ax.plot(np.arange(len(v)), v, color="#4e79a7", lw=1)
    vec_ax.fill_between(np.arange(len(v)), v, color="#4e79a7", alpha=0.25)
    width = nums["image"].shape[-1]
    for row_start in range(0, len(v) + 1, width * 4):
        vec_ax.axvline(row_start, color="#cccccc", lw=0.6, zorder=0)
    vec_ax.set(xlim=(0, len(v) - 1), ylim=(0, 260), xlabel=f"pixel index (row x {width} + column; grid every 4 rows)",
               ylabel="intensity (0..255)", title=f"The same image as a {len(v)}-long vector")
    fig.suptitle("One digit as the network sees it")
    return fig


def class_means(nums: dict) -> Figure:
    means, classes = nums["means"], nums["classes"]
    fig = new_figure(1.35 * len(means), 2.0)
    axes = fig.subplots(1, len(means), squeeze=False)[0]
    for ax, mean, label, count in zip(axes, means, classes, nums["counts"]):
        show_digit(ax, mean, f"{label}\n(n={count:,})", fontsize=9, vmax=means.max())
    fig.suptitle("Mean training image of every class")
    return fig


def correlation_matrix(nums: dict, show: int = 250) -> Figure:
    """The top-left `show` x `show` block: enough to see the texture, small enough to read (the numbers hold all)."""
    fig = new_figure(6.6, 5.8)
    ax = fig.subplots()
    block = nums["matrix"][:show, :show]
    shown = ax.imshow(block, cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    ax.set(xlabel=f"image (the first {len(block):,} of {nums['n_images']:,} '{nums['label']}'s)", ylabel="image")
    fig.colorbar(shown, ax=ax, shrink=0.85).set_label("Pearson correlation of the pixels")
    fig.suptitle(f"Pairwise correlations between images of digit {nums['label']}")
    return fig


def correlation_histogram(nums: dict) -> Figure:
    fig = new_figure(7, 4)
    ax = fig.subplots()
    ax.stairs(nums["counts"], nums["edges"], fill=True, color="#4e79a7", alpha=0.8)
    ax.axvline(nums["pairs_mean"], color="black", ls="--", lw=1, label=f"mean {nums['pairs_mean']:.2f}")
    ax.set(xlabel="correlation between two images", ylabel="pairs of images",
           title=f"{int(nums['counts'].sum()):,} distinct pairs of {nums['n_images']:,} images")
    ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    fig.suptitle(f"How alike are the '{nums['label']}'s? Histogram of their pairwise correlations")
    return fig

