"""Figures of the corruption benchmark (mnistlab.robustness): examples per corruption with the model's answers,
and accuracy per family for several runs."""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .style import OTHER, RIGHT, SPLIT_COLORS, WRONG, grid_shape, new_figure, show_digit


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


def calibration(results: list[dict], names: list[str]) -> Figure:
    """Per run, above: the reliability diagram (accuracy per confidence bin, before and after the temperature; a
    calibrated model sits on the diagonal); below: how sure it is of test digits and of things that are not
    digits, with the line below which `predict` says unsure."""
    fig = new_figure(4.2 * len(results), 7.2)
    axes = fig.subplots(2, len(results), squeeze=False)
    for k, (result, name) in enumerate(zip(results, names)):
        ax = axes[0, k]
        bins = result["before"]["bins"]
        centres = (np.arange(bins) + 0.5) / bins
        ax.plot([0, 1], [0, 1], color=OTHER, lw=0.8, ls="--")
        after = f"T = {result['temperature']:.2f}"
        for key, color, label, shift in (("before", OTHER, "T = 1", -0.15), ("after", SPLIT_COLORS["train"], after, 0.15)):
            rel = result[key]
            acc = np.array([np.nan if a is None else a for a in rel["accuracy"]])
            bars = ax.bar(centres + shift / bins, acc, 0.3 / bins * 2, color=color, alpha=0.8,
                          label=f"{label}: ECE {100 * rel['ece']:.2f}%")
            if key == "after":  # how many test images each bin holds: most sit in the top one
                ax.bar_label(bars, [str(n) if n else "" for n in rel["count"]], fontsize=6, padding=1)
        ax.set(xlim=(0, 1), ylim=(0, 1.08), xlabel="confidence (top probability)", ylabel="accuracy in the bin",
               title=f"{name}: reliability (test set)")
        ax.legend(fontsize=8, loc="upper left")
        _sureness(axes[1, k], result["unsure"], name)
    fig.suptitle("Calibration: accuracy per confidence bin without and with the temperature (numbers: test images\n"
                 "in each bin), and how sure each run is of digits and of non-digits", fontsize=9)
    return fig


def _sureness(ax, unsure: dict, name: str) -> None:
    """Histograms of the top probability for test digits and for non-digits, each as a share of its own set."""
    edges = np.linspace(0, 1, 21)
    for key, color, label in (("digits", RIGHT, "MNIST test digits"), ("nondigits", WRONG, "letters, doodles, faces")):
        part = unsure[key]
        top = np.asarray(part["top"])
        ax.hist(top, edges, weights=np.full(len(top), 100 / max(len(top), 1)), color=color, alpha=0.55,
                label=f"{label}: {100 * part['unsure']:.1f}% unsure")
    ax.axvline(unsure["unsure_below"], color="black", lw=1, ls=":")
    ax.set_yscale("log")
    ax.set(xlabel="calibrated top probability", ylabel="% of the set",
           title=f"{name}: how sure (unsure below {unsure['unsure_below']:.2f})")
    ax.legend(fontsize=8, loc="upper left")


def drawings(shown: dict, title: str) -> Figure:
    """Drawn non-digits as a user's file would arrive, each with the run's answer and calibrated probability: gray
    where it says unsure, red where it is sure of a digit."""
    images = shown["images"]
    rows, cols = grid_shape(len(images), 8)
    fig = new_figure(1.05 * cols, 1.2 * rows + 0.4)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat[len(images):]:
        ax.set_axis_off()
    for ax, image, answer, p, doubt in zip(axes.flat, images, shown["answers"], shown["probability"], shown["unsure"]):
        show_digit(ax, 255 - np.asarray(image), f"{answer} {int(100 * p)}%" + (" unsure" if doubt else ""),  # floor: 84.9% is 84
                   OTHER if doubt else WRONG, fontsize=7)
    fig.suptitle(title, fontsize=9)
    return fig


def paper_scenes(examples: dict[str, list[tuple[np.ndarray, str]]], title: str = "") -> Figure:
    """A row per scene of the paper suite: pictures as a viewer shows them (RGB uint8), each titled with what
    it shows."""
    scenes = list(examples)
    per_row = max(len(v) for v in examples.values())
    fig = new_figure(2.0 * per_row + 1.2, 1.55 * len(scenes) + 0.6)
    axes = fig.subplots(len(scenes), per_row + 1, squeeze=False, width_ratios=[0.6] + [1] * per_row)
    for r, scene in enumerate(scenes):
        axes[r, 0].set_axis_off()
        axes[r, 0].text(0, 0.5, scene.replace("_", " "), fontsize=9, va="center", transform=axes[r, 0].transAxes)
        for c in range(per_row):
            ax = axes[r, c + 1]
            ax.set_axis_off()
            if c < len(examples[scene]):
                picture, label = examples[scene][c]
                ax.imshow(picture, interpolation="antialiased")
                ax.set_title(label, fontsize=8)
    fig.suptitle(title or "Paper scenes", fontsize=10)
    return fig
