"""L5: the distribution of all the network's weights, recorded before training and after every epoch."""
from __future__ import annotations

import numpy as np

from ..lazy import lazy_module
from ..mpl import pyplot
from ..train.weights import BINS, RANGE
from .context import Context
from .registry import experiment
from .settings import L5_MODEL
from .setups import l5_dataset, l5_splits, l5_train

torch = lazy_module("torch")  # `experiment run --help` reads this module; the experiment loads torch when it runs

TITLE = "L5: all weights, 100 bins on [-0.8, 0.8], every epoch; line plot and epochs x bins image"
EPOCHS = 100  # L5 records 100 epochs here (60 elsewhere)


def histogram(model: torch.nn.Module) -> np.ndarray:
    """Counts of every parameter (weights and biases) in 100 bins over [-0.8, 0.8]."""
    values = torch.cat([p.detach().flatten().float().cpu() for p in model.parameters()]).numpy()
    return np.histogram(values, BINS, RANGE)[0]


@experiment("weight-histograms", TITLE, cpu_seconds=37)
def run(ctx: Context) -> None:
    from ..models import build_model  # torch: see `torch` above

    splits = l5_splits(l5_dataset(ctx))
    model = build_model(**L5_MODEL, seed=ctx.seed)
    counts, stds = [histogram(model)], [float(torch.cat([p.detach().flatten() for p in model.parameters()]).std())]

    def on_epoch(row: dict, net) -> None:
        counts.append(histogram(net))
        stds.append(float(torch.cat([p.detach().flatten() for p in net.parameters()]).std()))

    run_ = ctx.fit("ffn", model, splits, on_epoch=on_epoch, **{**l5_train(ctx), "epochs": ctx.pick(EPOCHS, 15)})
    counts = np.stack(counts)
    edges = np.linspace(*RANGE, BINS + 1)
    ctx.notes["histograms"] = {"bins": BINS, "range": list(RANGE), "edges": edges.tolist(), "counts": counts.tolist(),
                               "std": stds, "n_weights": int(counts[0].sum())}
    ctx.summary["ffn"] = run_.final["test_accuracy"]
    epochs = len(counts) - 1
    for e in sorted({0, 1, 2, 5, 10, 20, 50, epochs} & set(range(epochs + 1))):
        inside = counts[e][(edges[:-1] >= -0.1) & (edges[1:] <= 0.1)].sum() / counts[e].sum()
        ctx.table.append({"epoch": e, "weight_std": stds[e], "share_in_[-0.1,0.1]%": float(inside),
                          "test_accuracy": None if e == 0 else run_.history[e - 1]["test_accuracy"]})
    draw(ctx, counts, edges)


def draw(ctx: Context, counts: np.ndarray, edges: np.ndarray) -> None:
    plt = pyplot()
    # matplotlib loads on the first figure, not when the experiments are listed
    from matplotlib.colors import LinearSegmentedColormap, LogNorm

    heat = plt.get_cmap("hot").copy()
    heat.set_bad("black")  # empty bins
    centers = (edges[:-1] + edges[1:]) / 2
    fig, (lines, image) = plt.subplots(1, 2, figsize=(11, 4))
    colors = LinearSegmentedColormap.from_list("epochs", ["tab:orange", "tab:blue"])(np.linspace(0, 1, len(counts)))
    for e, row in enumerate(counts):
        lines.plot(centers, row, color=colors[e], lw=0.8)
    lines.set_yscale("log")  # the first layer's 50,176 weights dwarf the rest; a log axis shows the tails spread
    lines.set_xlabel("weight value"), lines.set_ylabel("count (log scale)")
    lines.set_title("weight histogram per epoch (orange: start, blue: end)")
    shown = image.imshow(counts, aspect="auto", origin="lower", extent=[edges[0], edges[-1], -0.5, len(counts) - 0.5],
                         cmap=heat, norm=LogNorm(vmin=1, vmax=max(2, counts.max())))
    image.set_xlabel("weight value"), image.set_ylabel("epoch"), image.set_title("epochs x bins")
    fig.colorbar(shown, ax=image, label="count (log scale)")
    ctx.figure("weight-histograms.png", fig)
