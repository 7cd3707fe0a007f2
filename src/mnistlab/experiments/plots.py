"""The figures experiments share: per-epoch curves and bar charts of final accuracies."""
from __future__ import annotations

from ..mpl import pyplot
from .context import Context

LABELS = {"train_loss": "train loss", "test_loss": "test loss", "train_accuracy": "train accuracy",
          "test_accuracy": "test accuracy", "val_accuracy": "validation accuracy"}


def curves(ctx: Context, filename: str, configurations: list[dict], keys=("train_loss", "test_accuracy"),
           title: str = "", log_keys=()) -> None:
    """One panel per metric, one line per configuration, epochs on x."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 3.6), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for c in configurations:
            ys = [row[key] for row in c["history"]]
            ax.plot(range(1, len(ys) + 1), [float("nan") if y is None else y for y in ys], label=c["condition"])
        ax.set_xlabel("epoch"), ax.set_ylabel(LABELS.get(key, key))
        if key in log_keys:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(title or ctx.name)
    ctx.figure(filename, fig)


def bars(ctx: Context, filename: str, values: dict[str, float], title: str = "", lecture: dict[str, float] | None = None,
         ylabel: str = "test accuracy") -> None:
    """Final accuracies per condition; the lecture's reported values as black ticks where it gives them."""
    plt = pyplot()
    names = list(values)
    fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(names)), 3.6))
    ax.bar(names, [values[n] for n in names], color="tab:blue", label="mnistlab")
    for i, name in enumerate(names):
        ax.text(i, values[name], f"{100 * values[name]:.1f}%", ha="center", va="bottom", fontsize=8)
        if lecture and name in lecture:
            ax.plot([i - 0.4, i + 0.4], [lecture[name]] * 2, color="black", lw=2,
                    label="lecture" if i == min(j for j, n in enumerate(names) if n in lecture) else None)
    ax.set_ylim(0, 1.05), ax.set_ylabel(ylabel), ax.set_title(title or ctx.name)
    ax.tick_params(axis="x", labelrotation=20)
    if lecture:
        ax.legend(fontsize=8)
    ctx.figure(filename, fig)
