"""A sweep's two figures: the metric against each varied option, and every trial's learning curve."""
from __future__ import annotations

import math
from pathlib import Path

from ..fileio import save_figure
from ..mpl import pyplot

COLORS = {"finished": "#1f77b4", "stopped_early": "#9aa3ad", "failed": "#d62728"}


def _numeric(values: list) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def params_figure(trials: list[dict], names: list[str], metric: str, best_id: str | None):
    plt = pyplot()
    cols = max(1, min(3, len(names)))
    rows = math.ceil(max(1, len(names)) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.8 * cols, 4.2 * rows), squeeze=False)
    scored = [t for t in trials if t["metrics"].get(metric) is not None]
    for ax, name in zip(axes.flat, names or ["trial"]):
        values = [t["config"].get(name, t["id"]) for t in scored]
        if values and _numeric(values):
            xs = values
            if min(values) > 0 and max(values) / min(values) >= 20:
                ax.set_xscale("log")
        else:
            labels = list(dict.fromkeys(str(v) for v in values))
            xs = [labels.index(str(v)) for v in values]
            long = max(map(len, labels), default=0) > 6
            ax.set_xticks(range(len(labels)), labels, rotation=60 if long else 0, ha="right" if long else "center", fontsize=7)
        for x, t in zip(xs, scored):
            ax.scatter(x, t["metrics"][metric], color=COLORS[t["status"]], s=60 if t["id"] == best_id else 24,
                       edgecolors="black" if t["id"] == best_id else "none", zorder=3)
        ax.set_xlabel(name)
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names or [0]):]:
        ax.axis("off")
    handles = [plt.Line2D([], [], marker="o", ls="", color=c, label=s.replace("_", " ")) for s, c in COLORS.items()
               if any(t["status"] == s for t in scored)]
    fig.legend(handles=handles, loc="upper right", fontsize=8)
    fig.suptitle(f"{metric} of every trial against each option (outlined: best)")
    fig.tight_layout()
    return fig


def curves_figure(trials: list[dict], metric: str, best_id: str | None):
    # matplotlib loads on the first figure, not when the parser is built
    from matplotlib.ticker import MaxNLocator

    from ..mpl import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for t in trials:
        points = [(r["epoch"], r.get(metric)) for r in t["history"] if r.get(metric) is not None]
        if not points:
            continue
        best = t["id"] == best_id
        ax.plot(*zip(*points), marker="o", ms=3, lw=2.4 if best else 1, color=COLORS[t["status"]] if not best else "#ff7f0e",
                alpha=1 if best else 0.6, label=f"best ({t['id']})" if best else None, zorder=3 if best else 2)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    if best_id:
        ax.legend(fontsize=8)
    ax.set_title(f"{metric} per epoch, every trial (grey: stopped early)")
    fig.tight_layout()
    return fig


def draw_figures(trials: list[dict], settings: dict, metric: str, out: Path, best_id: str | None) -> list[str]:
    """Write figures/params.png and figures/curves.png (the best trial marked); return their paths."""
    # matplotlib loads on the first figure, not when the parser is built
    import matplotlib.pyplot as plt

    paths = []
    for name, fig in (("params", params_figure(trials, list(settings["space"]), metric, best_id)),
                      ("curves", curves_figure(trials, metric, best_id))):
        paths.append(str(save_figure(fig, out / "figures" / f"{name}.png", dpi=100, bbox_inches="tight")))
        plt.close(fig)
    return paths
