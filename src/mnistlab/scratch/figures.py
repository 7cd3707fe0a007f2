"""The demo's figures: patches, filter responses, feature maps, pooling (matplotlib Figures, shown inline in Jupyter)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ..data import Dataset
from ..fileio import save_figure
from ..mpl import agg
from .autograd import Tensor, _fmt, lecture_example, trace_table
from .filters import edge_filters, feature_maps, probe_patches, response_table
from .patches import make_patches, n_positions
from .pool import avg_pool, max_pool

agg()

PENCIL = {"cmap": "gray_r", "vmin": 0, "vmax": 1}  # ink on paper; a fixed range so blank patches draw white


def _subplots(rows: int, cols: int, figsize: tuple[float, float], squeeze: bool = True):
    """A figure not registered with pyplot: it displays once when a notebook cell returns it, never twice."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(rows, cols, squeeze=squeeze)


def _show(ax, image: np.ndarray, title: str = "", **style) -> None:
    ax.imshow(image, **(style or PENCIL))
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


def _signed(image: np.ndarray) -> dict:
    """A red-white-blue scale centred on zero, for responses and filters."""
    limit = float(np.abs(image).max()) or 1.0
    return {"cmap": "RdBu_r", "vmin": -limit, "vmax": limit}


def patch_grid(image: np.ndarray, patch_size: int, stride: int) -> Figure:
    """Every patch in its place; in pad mode the ragged edge patches (dropped by cropping) are framed red."""
    patches = make_patches(image[None], patch_size, stride, "pad")[0]
    rows, cols = patches.shape[:2]
    whole = n_positions(image.shape[0], patch_size, stride, "crop")
    fig, axes = _subplots(rows, cols, figsize=(max(0.4 * cols, 3.6), max(0.4 * rows, 3.0) + 0.4), squeeze=False)
    for r in range(rows):
        for c in range(cols):
            _show(axes[r, c], patches[r, c])
            if r >= whole or c >= whole:
                for spine in axes[r, c].spines.values():
                    spine.set(color="red", linewidth=1.5)
    fig.suptitle(f"{patch_size}x{patch_size} patches, stride {stride}: {rows * cols} patches, "
                 f"{whole * whole} whole", fontsize=9)
    return fig


def response_figure(filters: dict[str, np.ndarray], patches: dict[str, np.ndarray]) -> Figure:
    """The filters across the top, then each probe patch with its response to every filter."""
    table = response_table(filters, patches)
    fig, axes = _subplots(2, max(len(filters), len(patches)), figsize=(1.3 * len(patches), 3.2))
    for ax in axes.flat:
        ax.axis("off")
    for ax, (name, filt) in zip(axes[0], filters.items()):
        ax.axis("on")
        _show(ax, filt, f"filter: {name}", **_signed(filt))
    for ax, (name, patch) in zip(axes[1], patches.items()):
        ax.axis("on")
        _show(ax, patch, name + "\n" + "\n".join(f"{f[:5]}: {r:+.0f}" for f, r in table[name].items()))
    fig.tight_layout()
    return fig


def feature_map_figure(digits: list[np.ndarray], filters: dict[str, np.ndarray], stride: int) -> Figure:
    """Each digit next to where each filter fires (its positive responses); the filters in the top row."""
    maps = np.maximum(feature_maps(np.stack(digits), np.stack(list(filters.values())), stride), 0)
    fig, axes = _subplots(1 + len(digits), 1 + len(filters), figsize=(1.8 * (1 + len(filters)),
                                                                           1.9 * (1 + len(digits))))
    axes[0, 0].axis("off")
    for f, (name, filt) in enumerate(filters.items()):
        _show(axes[0, f + 1], filt, f"filter: {name}", **_signed(filt))
    for d, digit in enumerate(digits):
        _show(axes[d + 1, 0], digit, "digit")
        for f in range(len(filters)):
            _show(axes[d + 1, f + 1], maps[d, f], f"{maps.shape[2]}x{maps.shape[3]} map, > 0",
                  cmap="gray_r", vmin=0, vmax=maps.max())
    fig.tight_layout()
    return fig


def pooling_figure(feature_map: np.ndarray, size: int = 2, stride: int = 2) -> Figure:
    x = feature_map[None, None]
    panels = {f"feature map {feature_map.shape[0]}x{feature_map.shape[1]}": feature_map,
              f"average pool {size}x{size}, stride {stride}": avg_pool(x, size, stride)[0, 0],
              f"max pool {size}x{size}, stride {stride}": max_pool(x, size, stride)[0, 0]}
    fig, axes = _subplots(1, 3, figsize=(7, 2.6))
    for ax, (title, image) in zip(axes, panels.items()):
        _show(ax, image, title, **_signed(feature_map))
    fig.tight_layout()
    return fig


def _save(fig: Figure, path: Path) -> str:
    save_figure(fig, path, dpi=90)
    return str(path)


def demo(dataset: Dataset, out: str | Path, labels: tuple[int, int] = (3, 7)) -> dict:
    """Write every figure of the walk-through into `out`; returns their paths and the response table."""
    out = Path(out)
    digits = [dataset.test_images[np.argmax(dataset.test_labels == label)] / 255 for label in labels]
    filters, probes = edge_filters(7), probe_patches(7)
    opposing = {"diagonal": filters["diagonal"], "reversed diagonal": -filters["diagonal"]}
    files = {
        "patches_stride7": _save(patch_grid(digits[0], 7, 7), out / "patches_stride7.png"),
        "patches_stride2": _save(patch_grid(digits[0], 7, 2), out / "patches_stride2.png"),
        "filter_responses": _save(response_figure(filters, probes), out / "filter_responses.png"),
        "feature_maps": _save(feature_map_figure(digits, opposing, 2), out / "feature_maps.png"),
        "pooling": _save(pooling_figure(feature_maps(digits[0][None], filters["diagonal"][None])[0, 0]),
                         out / "pooling.png"),
        "graph": _save(graph_figure(lecture_example()[0]), out / "graph.png"),
    }
    return {"dataset": dataset.describe(), "digits": list(labels), "files": files,
            "responses": response_table(filters, probes)}


def _depths(nodes: list[dict]) -> dict[str, int]:
    """Each node's column: one more than its deepest input (inputs in column 0)."""
    depth: dict[str, int] = {}
    for row in nodes:  # creation order: inputs come first
        depth[row["v"]] = 1 + max((depth[i] for i in row["inputs"]), default=-1)
    return depth


def graph_figure(output: Tensor) -> Figure:
    """The computation graph of `output` as the NumPy autograd traced it (`trace_table`): one box per node with
    its formula, value and gradient (d output / d node), an arrow per input, labelled with the local derivative."""
    table = trace_table(output)
    depth = _depths(table["nodes"])
    columns: dict[int, list[str]] = {}
    for v, d in depth.items():
        columns.setdefault(d, []).append(v)
    where = {v: (d, (len(vs) - 1) / 2 - i) for d, vs in columns.items() for i, v in enumerate(vs)}
    fig = Figure(figsize=(1.9 * len(columns) + 0.5, 1.1 * max(map(len, columns.values())) + 0.8))
    ax = fig.subplots()
    boxes = {}
    for row in table["nodes"]:
        label = f"{row['v']} = {row['formula']}" if row["inputs"] else f"{row['v']} = {row['name'] or 'constant'}"
        colour = "tab:orange" if row["v"] == table["output"] else "lightblue" if not row["inputs"] else "white"
        boxes[row["v"]] = ax.text(*where[row["v"]], f"{label}\nvalue {_fmt(row['value'])}\ngrad {_fmt(row['grad'])}",
                                  ha="center", va="center", fontsize=8, bbox={"boxstyle": "round", "fc": colour, "ec": "0.3"})
    for step in table["steps"]:  # an arrow from each input to its use, with d use / d input on it
        (x0, y0), (x1, y1) = where[step["input"]], where[step["node"]]
        ax.annotate("", (x1, y1), (x0, y0), arrowprops={"arrowstyle": "->", "color": "0.5", "shrinkA": 1, "shrinkB": 1,
                                                        "patchA": boxes[step["input"]].get_bbox_patch(),
                                                        "patchB": boxes[step["node"]].get_bbox_patch()})
        if step["local"] is not None:
            ax.text(x0 + 0.5 * (x1 - x0), y0 + 0.5 * (y1 - y0), f"∂ {_fmt(step['local'])}", fontsize=7,
                    ha="center", va="center", color="tab:purple", bbox={"fc": "white", "ec": "none", "pad": 0.5})
    ax.set_xlim(-0.5, len(columns) - 0.5)
    ax.set_ylim(min(y for _, y in where.values()) - 0.6, max(y for _, y in where.values()) + 0.6)
    ax.axis("off")
    ax.set_title(f"the computation graph: each node's value and gradient d{table['output']}/dv; "
                 f"on each arrow the local derivative", fontsize=9)
    return fig
