"""Figures of why a run decides what it decides: attribution maps, and where it puts the test set (embedding)."""
from __future__ import annotations

import numpy as np
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.offsetbox import AnnotationBbox, OffsetImage

from .style import DIGIT_CMAP, RIGHT, WRONG, as_displayed, new_figure, pct, show_digit, symmetric_limit

MAPS = (("saliency", "saliency |∂score/∂x|", "Reds"), ("integrated_gradients", "integrated gradients", "bwr"),
        ("occlusion", "occlusion (prob. drop)", "bwr"))
CLASS_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def _map(ax, values: np.ndarray, cmap: str, title: str | None) -> None:
    limit = symmetric_limit(values)
    ax.imshow(values, cmap=cmap, vmin=0 if cmap == "Reds" else -limit, vmax=limit, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=8, pad=3)


def attribution(nums: dict) -> Figure:
    """For each digit: the image, then saliency, integrated gradients and occlusion of its predicted class,
    each map on its own colour scale (red: for the class, blue: against it, white: no effect)."""
    classes, groups = nums["classes"], nums["groups"]
    rows = max(len(g["indices"]) for g in groups.values()) or 1
    fig = new_figure(2.0 * 4 * len(groups) + 0.4, 1.75 * rows + 0.9)
    subfigs = fig.subfigures(1, len(groups), wspace=0.04, squeeze=False)[0]
    for sub, (name, g) in zip(subfigs, groups.items()):
        axes = sub.subplots(rows, 4, squeeze=False)
        for r in range(rows):
            if r >= len(g["indices"]):
                for ax in axes[r]:
                    ax.set_axis_off()
                continue
            label, guess = int(g["labels"][r]), int(g["predicted"][r])
            show_digit(axes[r, 0], g["images"][r], f"#{g['indices'][r]}: {classes[label]} → {classes[guess]} "
                                                   f"({pct(g['probability'][r])})",
                       color=RIGHT if label == guess else WRONG, fontsize=8)
            for ax, (key, title, cmap) in zip(axes[r, 1:], MAPS):
                _map(ax, g[key][r], cmap, title if r == 0 else None)
        if not len(g["indices"]):
            sub.text(0.5, 0.5, "no mistakes", ha="center", va="center")
        sub.suptitle({"samples": "Random test digits", "mistakes": "Most confident mistakes"}.get(name, name), fontsize=11)
    fig.suptitle(f"What the {nums['target']} rests on ({nums['score']}; baseline: {nums['baseline']})")
    return fig


def _thumbnail(ax, image: np.ndarray, xy, color: str) -> None:
    image = as_displayed(image)
    shown = OffsetImage(image.astype(np.uint8), zoom=0.75) if image.ndim == 3 else \
        OffsetImage(image, cmap=DIGIT_CMAP, zoom=0.75, norm=Normalize(0, 255))
    box = AnnotationBbox(shown, xy, frameon=True, pad=0.1,
                         bboxprops={"edgecolor": color, "linewidth": 1.5})
    ax.add_artist(box)


def embedding(nums: dict) -> Figure:
    """Each projection of the penultimate features: test images coloured by true class, mistakes as black crosses,
    a few typical digits of each class drawn where they land."""
    projections, classes = nums["projections"], nums["classes"]
    fig = new_figure(7.2 * len(projections), 7.0)
    axes = fig.subplots(1, len(projections), squeeze=False)[0]
    titles = {"pca": "PCA", "tsne": "t-SNE"}
    for ax, (name, p) in zip(axes, projections.items()):
        idx, points = p["indices"], p["points"]
        labels, wrong = nums["labels"][idx], nums["predicted"][idx] != nums["labels"][idx]
        for c in range(len(classes)):
            members = labels == c
            ax.scatter(points[members, 0], points[members, 1], s=3, alpha=0.5, color=CLASS_COLORS[c % 10], label=classes[c],
                       rasterized=True)
        ax.scatter(points[wrong, 0], points[wrong, 1], s=18, marker="x", color="black", linewidths=0.8,
                   label=f"misclassified ({int(wrong.sum())})")
        position = {int(i): k for k, i in enumerate(idx)}
        for i in p["thumbnails"]:
            _thumbnail(ax, np.asarray(nums["thumbnail_images"][int(i)]), points[position[int(i)]],
                       CLASS_COLORS[int(nums["labels"][i]) % 10])
        extra = ""
        if name == "pca":
            extra = f" (axes explain {pct(p['explained_variance'][0])} and {pct(p['explained_variance'][1])} of the variance)"
        ax.set_title(f"{titles.get(name, name)} of {len(idx):,} test images{extra}", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.legend(loc="best", fontsize=7, markerscale=3, ncol=2, framealpha=0.8)
    note = f"; {nums['note']}" if nums.get("note") else ""
    fig.suptitle(f"Penultimate-layer features ({nums['layer']['features']} per image, after {nums['layer']['name']}) "
                 f"in 2-D{note}")
    return fig
