"""Shared look of every figure: Agg-only Figures (no pyplot state), digit and grid helpers, PNG bytes.

matplotlib is set up (`mnistlab.mpl`) on first use of `mnistlab.plots`, so `import mnistlab` stays light.
"""
from __future__ import annotations

import io
import math

import numpy as np
from matplotlib.figure import Figure

from ..mpl import agg

matplotlib = agg()

SPLIT_COLORS = {"train": "#1f77b4", "val": "#ff7f0e", "test": "#2ca02c"}
RIGHT, WRONG, OTHER = "#2ca02c", "#d62728", "#9aa5b1"
DIGIT_CMAP = "gray_r"  # dark ink on white paper: reads on screen and in print
DPI = 110

matplotlib.rcParams.update({"font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "figure.titlesize": 13,
                            "figure.titleweight": "bold", "axes.spines.top": False, "axes.spines.right": False})


def new_figure(width: float, height: float) -> Figure:
    """A figure not registered with pyplot (safe in servers and threads), laid out by constrained layout."""
    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def png_bytes(fig: Figure, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes (for files, data URIs and HTTP responses)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    return buf.getvalue()


def grid_shape(n: int, max_cols: int = 8) -> tuple[int, int]:
    cols = min(n, max_cols, max(1, math.ceil(math.sqrt(n * 1.5))))
    return math.ceil(n / cols), cols


def as_displayed(image: np.ndarray) -> np.ndarray:
    """(H, W) stays; (1, H, W) → (H, W); a colour image (3, H, W) → (H, W, 3), as imshow draws RGB."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[0] == 1:
        return image[0]
    return image.transpose(1, 2, 0) if image.ndim == 3 and image.shape[0] == 3 else image


def show_digit(ax, image: np.ndarray, title: str | None = None, color: str = "black", fontsize: float = 9,
               vmax: float = 255) -> None:
    """A raw-pixel image (0..255), no ticks: gray with the same scale everywhere, colour (3, H, W) as it is."""
    image = as_displayed(image)
    if image.ndim == 3:
        ax.imshow(np.clip(image / vmax, 0, 1), interpolation="nearest")
    else:
        ax.imshow(image, cmap=DIGIT_CMAP, vmin=0, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(True)
        spine.set_color("#cccccc")
    if title:
        ax.set_title(title, fontsize=fontsize, color=color, pad=3)


def image_grid(fig_or_sub, images: np.ndarray, *, cmap: str, vmin: float, vmax: float, labels=None, max_cols: int = 8,
               label_size: float = 8):
    """Images in a grid of small axes sharing one colour scale; returns (axes, the last image for a colour bar)."""
    rows, cols = grid_shape(len(images), max_cols)
    axes = fig_or_sub.subplots(rows, cols, squeeze=False)
    shown = None
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        if k >= len(images):
            ax.set_axis_off()
            continue
        image = as_displayed(images[k])
        if image.ndim == 3:  # colour (filters of an RGB input): vmin..vmax onto 0..1 in every channel
            ax.imshow(np.clip((image - vmin) / (vmax - vmin), 0, 1), interpolation="nearest")
        else:
            shown = ax.imshow(image, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        if labels is not None:
            ax.set_title(labels[k], fontsize=label_size, pad=2)
    return axes, shown


def probability_bars(ax, probs: np.ndarray, label: int, predicted: int, classes, fontsize: float = 9) -> None:
    """Bars of class probabilities: the true class green, a wrong prediction red, the rest grey."""
    colours = [OTHER] * len(probs)
    colours[predicted] = WRONG
    colours[label] = RIGHT
    ax.bar(range(len(probs)), probs, color=colours)
    ax.set_xticks(range(len(probs)), classes, fontsize=fontsize, rotation=0 if max(map(len, classes)) <= 2 else 45)
    ax.set_ylim(0, 1)
    ax.set_ylabel("probability", fontsize=fontsize)
    ax.tick_params(axis="y", labelsize=fontsize)
    ax.grid(axis="y", alpha=0.3)


def symmetric_limit(values: np.ndarray) -> float:
    """Half-width of a colour scale centred on zero, so white means 0 on a diverging map."""
    m = float(np.abs(values).max()) if values.size else 1.0
    return m or 1.0


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"
