"""Figures of the corruption benchmark (mnistlab.robustness): examples per corruption with the model's answers,
and accuracy per family for several runs."""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .style import RIGHT, WRONG, new_figure, show_digit


def examples(result: dict, title: str = "") -> Figure:
    """One row per corruption: the clean digit, then each severity as the file was (raw) with the model's raw
    answer and, below it, what `predict`'s preparation made of it with the answer there (green right, red wrong)."""
    rows = result["examples"]
    names = list(rows)
    fig = new_figure(7.6, 1.05 * len(names) + 0.8)
    axes = fig.subplots(len(names), 7, squeeze=False, width_ratios=[1.6, 1, 1, 1, 1, 1, 1])
    for r, name in enumerate(names):
        ex, label = rows[name], rows[name]["label"]
        axes[r, 0].set_axis_off()
        axes[r, 0].text(0, 0.5, name.replace("_", " "), fontsize=8, va="center", transform=axes[r, 0].transAxes)
        for s, sev in enumerate(ex["severities"]):
            for col, key, image in ((1 + 2 * s, "raw", sev["image"]), (2 + 2 * s, "prepared", sev["prepared_image"])):
                answer = sev[key]
                show_digit(axes[r, col], np.asarray(image), f"{'raw' if key == 'raw' else 'prep'} {answer}",
                           RIGHT if answer == label else WRONG, fontsize=7)
    heads = ["", "severity 1", "", "severity 2", "", "severity 3", ""]
    for col, head in enumerate(heads):
        if head:
            axes[0, col].annotate(head, (1.05, 1.55), xycoords="axes fraction", ha="center", fontsize=8, weight="bold")
    fig.suptitle(title or "Corrupted test digits and the model's answers (raw file | after predict's preparation)",
                 fontsize=10)
    return fig


def families(results: list[dict], names: list[str]) -> Figure:
    """Prepared accuracy per corruption family, one bar per run, with each run's clean accuracy as a line."""
    fams = list(results[0]["families"])
    fig = new_figure(9, 3.8)
    ax = fig.subplots()
    width = 0.8 / len(results)
    x = np.arange(len(fams))
    for k, (result, name) in enumerate(zip(results, names)):
        values = [100 * result["families"][f] for f in fams]
        bars = ax.bar(x + (k - (len(results) - 1) / 2) * width, values, width, label=f"{name} (clean "
                      f"{100 * result['clean_accuracy']:.2f}%)")
        ax.bar_label(bars, fmt="%.0f", fontsize=7, padding=1)
    ax.set_xticks(x, fams, rotation=20, ha="right")
    ax.set_ylabel("accuracy through preparation (%)")
    ax.set_ylim(min(50, min(100 * r["families"][f] for r in results for f in fams) - 5), 101)
    ax.axhline(90, color="#9aa5b1", lw=0.8, ls="--")
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title("Accuracy per corruption family (mean over corruptions and severities)")
    return fig
