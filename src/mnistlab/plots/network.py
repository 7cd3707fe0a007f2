"""Figures of the network itself: first-layer filters, feature maps for one digit, the layer table."""
from __future__ import annotations

from matplotlib.figure import Figure

from .style import RIGHT, WRONG, grid_shape, image_grid, new_figure, pct, probability_bars, show_digit, symmetric_limit

FILTER_CMAP = "RdBu_r"  # red positive, blue negative, white zero
MAP_CMAP = "magma"


def filters(nums: dict) -> Figure:
    """The first weight layer as images: conv kernels, or each FFN unit's input weights as an image (28x28, less any crop)."""
    w, layer = nums["weights"], nums["layer"]
    rows, cols = grid_shape(len(w), 12 if nums["is_cnn"] else 10)
    cell = 0.9 if nums["is_cnn"] else 1.1
    fig = new_figure(max(5.0, cols * cell + 1.2), rows * cell + 0.9)
    lim = symmetric_limit(w)
    axes, shown = image_grid(fig, w, cmap=FILTER_CMAP, vmin=-lim, vmax=lim, labels=[str(k) for k in range(len(w))],
                             max_cols=cols, label_size=7)
    if shown is not None:  # gray weights: a diverging scale; RGB weights draw 0 as mid-gray, each channel its colour
        fig.colorbar(shown, ax=axes, shrink=0.8, pad=0.01).set_label("weight")
    h, wd = w.shape[-2:]
    rgb = " in RGB" if w.ndim == 4 else ""
    what = (f"{len(w)} filters of {h}x{wd}{rgb}" if nums["is_cnn"]
            else f"the input weights of each of its {len(w)} units as {h}x{wd} images{rgb}")
    fig.suptitle(f"First layer {layer['name']} ({layer['token']}): {what}")
    return fig


def featuremaps(nums: dict) -> Figure:
    """The digit, then per conv layer its filters beside its outputs (per hidden FC layer, its activations)."""
    layers = nums["layers"]
    heights = [2.4] + [_layer_height(layer) for layer in layers]
    fig = new_figure(13, sum(heights))
    subs = fig.subfigures(len(heights), 1, height_ratios=heights)
    top = subs[0] if len(heights) > 1 else subs
    _digit_and_probs(top, nums)
    fig.suptitle("Feature maps: what each layer computes for one test digit")
    for sub, layer in zip(subs[1:], layers):
        if layer["kind"] == "conv":
            _conv_layer(sub, layer)
        else:
            _fc_layer(sub, layer)
    return fig


def _layer_height(layer: dict) -> float:
    if layer["kind"] == "fc":
        return 2.2
    rows, _ = grid_shape(layer["weight"].shape[0], 8)
    return 0.75 * rows + 0.8


def _digit_and_probs(sub, nums: dict) -> None:
    image_ax, bar_ax = sub.subplots(1, 2, width_ratios=[1, 3])
    right = nums["predicted"] == nums["label"]
    classes = nums["classes"]
    show_digit(image_ax, nums["image"], f"test image #{nums['index']}, label {classes[nums['label']]}")
    probability_bars(bar_ax, nums["probs"], nums["label"], nums["predicted"], classes)
    bar_ax.set_title(f"predicted {classes[nums['predicted']]} ({pct(nums['probs'][nums['predicted']])})",
                     color=RIGHT if right else WRONG)


def _conv_layer(sub, layer: dict) -> None:
    """Filters (averaged over input channels past the first layer) on the left, activated outputs on the right."""
    w, maps = layer["weight"], layer["output"]
    left, right = sub.subfigures(1, 2, width_ratios=[1, 1.25])
    kernels = w.mean(1)
    lim = symmetric_limit(kernels)
    axes, shown = image_grid(left, kernels, cmap=FILTER_CMAP, vmin=-lim, vmax=lim, max_cols=8)
    left.colorbar(shown, ax=axes, shrink=0.8, pad=0.01)
    averaged = f", mean over {w.shape[1]} input channels" if w.shape[1] > 1 else ""
    left.suptitle(f"{layer['name']} ({layer['token']}) filters {w.shape[2]}x{w.shape[3]}{averaged}", fontsize=10)
    axes, shown = image_grid(right, maps, cmap=MAP_CMAP, vmin=0 if maps.min() >= 0 else None, vmax=maps.max() or 1,
                             max_cols=8)
    right.colorbar(shown, ax=axes, shrink=0.8, pad=0.01).set_label("activation")
    right.suptitle(f"{layer['name']} outputs: {maps.shape[0]} maps of {maps.shape[1]}x{maps.shape[2]}", fontsize=10)


def _fc_layer(sub, layer: dict) -> None:
    out = layer["output"]
    ax = sub.subplots()
    ax.bar(range(len(out)), out, color="#4e79a7", width=1.0 if len(out) > 64 else 0.8)
    ax.set(xlabel="unit", ylabel="activation", xlim=(-0.5, len(out) - 0.5))
    ax.grid(axis="y", alpha=0.3)
    active = int((out > 0).sum())
    sub.suptitle(f"{layer['name']} ({layer['token']}) activations: {active} of {len(out)} units above zero", fontsize=10)


def summary(nums: dict) -> Figure:
    """The layer table: name, token, output shape, parameters, as in `mnistlab train`'s printout."""
    rows = nums["rows"]
    cfg = nums["config"]
    fig = new_figure(7.5, 0.3 * (len(rows) + 2) + 0.5)
    ax = fig.subplots()
    ax.set_axis_off()
    cells = [[r["name"], r["token"], "x".join(map(str, r["output_shape"])), f"{r['params']:,}"] for r in rows]
    cells.append(["total", "", "", f"{nums['total_params']:,}"])
    table = ax.table(cellText=cells, colLabels=["layer", "token", "output shape", "parameters"], bbox=[0, 0, 1, 1],
                     cellLoc="left", colLoc="left", colWidths=[0.2, 0.2, 0.3, 0.3])
    table.auto_set_font_size(False)
    table.set_fontsize(10)
    for (r, _c), cell in table.get_celld().items():
        cell.set_edgecolor("#dddddd")
        if r == 0 or r == len(cells):
            cell.set_text_props(fontweight="bold")
            cell.set_facecolor("#f0f3f7")
    fig.suptitle(f"Model '{cfg['spec']}'  activation {cfg['activation']}  head {cfg['head']}  "
                 f"input {'x'.join(map(str, cfg['input_shape']))}", fontsize=11)
    return fig
