"""Figures of how a run learned: loss and accuracy curves, weight histograms."""
from __future__ import annotations

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import LinearSegmentedColormap, LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .style import SPLIT_COLORS, new_figure, pct

EPOCH_CMAP = LinearSegmentedColormap.from_list("epochs", ["#f28e2b", "#4e79a7"])  # L5: orange (early) → blue (late)


def curves(nums: dict) -> Figure:
    """Loss and accuracy per epoch side by side: L5's lesson is that they can tell different stories."""
    fig = new_figure(10, 3.8)
    loss_ax, acc_ax = fig.subplots(1, 2)
    epochs = nums["epochs"]
    for split, values in nums["loss"].items():
        loss_ax.plot(epochs, values, "o-", color=SPLIT_COLORS[split], label=split, ms=4)
    for split, values in nums["accuracy"].items():
        acc_ax.plot(epochs, 100 * values, "o-", color=SPLIT_COLORS[split], label=split, ms=4)
        acc_ax.annotate(f"{100 * values[-1]:.2f}%", (epochs[-1], 100 * values[-1]), textcoords="offset points",
                        xytext=(4, 0), va="center", fontsize=8, color=SPLIT_COLORS[split])
    loss_ax.set(title="Loss", xlabel="epoch", ylabel="mean loss per image")
    acc_ax.set(title="Accuracy", xlabel="epoch", ylabel="correct (%)")
    if len(epochs) > 1 and max(v.max() for v in nums["loss"].values()) > 20 * min(v.min() for v in nums["loss"].values()):
        loss_ax.set_yscale("log")
    for ax in (loss_ax, acc_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(frameon=False)
        if len(epochs) == 1:
            ax.set_xlim(epochs[0] - 0.5, epochs[0] + 0.5)
    acc_ax.margins(x=0.12)
    final = nums.get("final") or {}
    fig.suptitle("Learning curves" + (f": test accuracy {pct(final['test_accuracy'])}" if final.get("test_accuracy") is not None else ""))
    return fig


def _label(name: str, h: dict) -> str:
    outside = h["below"] + h["above"]
    return f"{name}\n({outside:,} outside the range)" if outside else name


def weights(nums: dict) -> Figure:
    """Init vs trained histogram of every parameter; with a per-epoch record, L5's line plot and epochs x bins image."""
    edges, epochs = nums["edges"], nums["epochs"]
    centres = (edges[:-1] + edges[1:]) / 2
    fig = new_figure(15 if epochs else 6.5, 4.2)
    axes = fig.subplots(1, 3 if epochs else 1, squeeze=False)[0]
    ax = axes[0]
    if nums["initial"] is not None:
        ax.stairs(nums["initial"]["counts"], edges, fill=True, color="#f28e2b", alpha=0.55,
                  label=_label("initialisation", nums["initial"]))
    ax.stairs(nums["trained"]["counts"], edges, color="#4e79a7", lw=1.6, label=_label("trained", nums["trained"]))
    ax.set_yscale("log")
    ax.set(title=f"All {nums['n_parameters']:,} parameters", xlabel="weight value", ylabel="count per bin (log)")
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    if epochs:
        counts = epochs["counts"]
        density = counts / (counts.sum(1, keepdims=True) * np.diff(edges))
        line_ax, image_ax = axes[1], axes[2]
        colours = EPOCH_CMAP(np.linspace(0, 1, len(counts)))
        for row, colour in zip(density, colours):
            line_ax.plot(centres, row, color=colour, lw=1)
        line_ax.set_yscale("log")
        line_ax.set_ylim(bottom=max(1e-3, density[density > 0].min()))
        line_ax.set(title="Histogram after every epoch", xlabel="weight value", ylabel="density (log)")
        line_ax.grid(alpha=0.3)
        bar = fig.colorbar(_epoch_mappable(epochs["epochs"]), ax=line_ax, pad=0.01)
        bar.set_label("epoch")
        shown = image_ax.imshow(np.maximum(density, 1e-3), aspect="auto", origin="lower", cmap="viridis",
                                norm=LogNorm(vmin=max(1e-3, density[density > 0].min()), vmax=density.max()),
                                extent=(edges[0], edges[-1], epochs["epochs"][0] - 0.5, epochs["epochs"][-1] + 0.5),
                                interpolation="nearest")
        image_ax.set(title="Epochs x bins", xlabel="weight value", ylabel="epoch")
        image_ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        fig.colorbar(shown, ax=image_ax, pad=0.01).set_label("density (log)")
    fig.suptitle("Weight histograms: initialisation vs trained" + (", and while learning" if epochs else ""))
    return fig


def _epoch_mappable(epochs: np.ndarray):
    return ScalarMappable(norm=Normalize(epochs[0], epochs[-1]), cmap=EPOCH_CMAP)
