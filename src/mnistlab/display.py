"""Rich display in Jupyter: compact HTML tables, inline images and a small SVG learning curve.

Objects that a notebook shows as the last value of a cell (`Run`, a model, experiment and sweep
results) get `_repr_html_` from here. The standard library only (Pillow to shrink embedded PNGs), so
every layer can use it; the curve is SVG, not matplotlib, so a `Run` displays without a plotting stack.
"""
from __future__ import annotations

import base64
import io
import math
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path

from PIL import Image

from .tables import cell_text

STYLE = "border-collapse:collapse;font-size:12px;margin:4px 0"
CELL = "padding:2px 8px;text-align:left;border-bottom:1px solid #ddd"
COLORS = {"train": "#1f77b4", "val": "#ff7f0e", "test": "#2ca02c"}  # as plots.style.SPLIT_COLORS


def table(rows: Sequence[dict], columns: Iterable[str] | None = None, caption: str | None = None) -> str:
    """Rows of dicts as one HTML table; columns are the union of the rows' keys, in first-seen order."""
    if columns is None:
        columns = []
        for row in rows:
            columns += [c for c in row if c not in columns]
    columns = list(columns)
    head = "".join(f"<th style='{CELL}'>{escape(str(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td style='{CELL}'>{escape(cell_text(c, row.get(c)))}</td>" for c in columns) + "</tr>"
                   for row in rows)
    cap = f"<caption style='text-align:left;font-weight:bold'>{escape(caption)}</caption>" if caption else ""
    head = f"<thead><tr>{head}</tr></thead>" if any(str(c).strip() for c in columns) else ""  # name/value pairs: none
    return f"<table style='{STYLE}'>{cap}{head}<tbody>{body}</tbody></table>"


def pairs(items: dict, caption: str | None = None) -> str:
    """A two-column table of name -> value, each value formatted by its name (accuracies as percentages)."""
    return table([{"": k, " ": cell_text(k, v)} for k, v in items.items()], ["", " "], caption)


def png_img(data: bytes, width: int | None = None) -> str:
    """PNG bytes as an <img> with a data URI (the notebook stays self-contained)."""
    size = f" width='{width}'" if width else ""
    return f"<img src='data:image/png;base64,{base64.b64encode(data).decode()}'{size}/>"


def palette_png(data: bytes) -> bytes:
    """A plot's PNG reduced to 256 colours: about a third of the bytes and the same look, so a notebook that embeds
    a dozen figures stays small."""
    out = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("RGB").quantize(256, method=Image.Quantize.FASTOCTREE).save(out, "PNG", optimize=True)
    return out.getvalue() if out.tell() < len(data) else data


def png_files(paths: Iterable[str | Path], width: int = 720) -> str:
    """Saved PNG figures inline, one under the other; files that are gone are left out."""
    return "".join(f"<div>{png_img(palette_png(Path(p).read_bytes()), width)}</div>" for p in paths
                   if str(p).endswith(".png") and Path(p).is_file())


def _panel(series: dict[str, list], title: str, percent: bool, w: int = 250, h: int = 130) -> str:
    """One SVG panel: a line per split over the epochs, with the axis range written at its ends."""
    values = [v for vs in series.values() for v in vs if v is not None and math.isfinite(v)]
    if not values:
        return ""
    lo, hi = min(values), max(values)
    hi = hi if hi > lo else lo + (1e-3 if percent else abs(lo) * 0.1 + 1e-9)
    n = max(len(vs) for vs in series.values())
    left, right, top, bottom = 44, w - 8, 18, h - 18

    def xy(i: int, v: float) -> tuple[float, float]:
        return left + (right - left) * (i / (n - 1) if n > 1 else 0.5), bottom - (bottom - top) * (v - lo) / (hi - lo)

    fmt = (lambda v: f"{100 * v:.1f}%") if percent else (lambda v: f"{v:.3g}")
    parts = [f"<text x='{left}' y='12' font-size='11' font-weight='bold'>{escape(title)}</text>",
             f"<line x1='{left}' y1='{bottom}' x2='{right}' y2='{bottom}' stroke='#999'/>",
             f"<line x1='{left}' y1='{top}' x2='{left}' y2='{bottom}' stroke='#999'/>",
             f"<text x='{left - 3}' y='{top + 4}' font-size='9' text-anchor='end'>{fmt(hi)}</text>",
             f"<text x='{left - 3}' y='{bottom}' font-size='9' text-anchor='end'>{fmt(lo)}</text>",
             f"<text x='{right}' y='{h - 4}' font-size='9' text-anchor='end'>epoch {n}</text>"]
    for k, (split, vs) in enumerate(series.items()):
        points = [xy(i, v) for i, v in enumerate(vs) if v is not None and math.isfinite(v)]
        colour = COLORS.get(split, "#555")
        line = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f"<polyline points='{line}' fill='none' stroke='{colour}' stroke-width='1.6'/>")
        parts += [f"<circle cx='{x:.1f}' cy='{y:.1f}' r='2' fill='{colour}'/>" for x, y in points[-1:]]
        parts.append(f"<text x='{left + 6 + 42 * k}' y='{h - 4}' font-size='9' fill='{colour}'>{escape(split)}</text>")
    return f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' style='margin-right:12px'>{''.join(parts)}</svg>"


def curve_svg(history: Sequence[dict]) -> str:
    """Loss and accuracy per epoch for every split the history holds, as two small SVG panels side by side."""
    if not history:
        return ""
    panels = []
    for metric, percent in (("loss", False), ("accuracy", True)):
        series = {split: [row.get(f"{split}_{metric}") for row in history] for split in ("train", "val", "test")}
        series = {s: vs for s, vs in series.items() if any(v is not None for v in vs)}
        panels.append(_panel(series, metric, percent))
    return f"<div style='display:flex'>{''.join(panels)}</div>"


def heading(text: str) -> str:
    return f"<div style='font-weight:bold;margin:4px 0'>{escape(text)}</div>"


class Record(dict):
    """A results dict (experiment, sweep) that Jupyter shows as its table and figures; still a plain dict to
    every other reader (JSON, `result["summary"]`)."""

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        """IPython's plain-text form: the name and summary, not the whole record (print(dict(r)) shows that)."""
        name = self.get("name") or self.get("sweep_dir")
        summary = self.get("summary") or self.get("best")
        printer.text(f"{type(self).__name__}({name!r}, summary={summary!r}, keys={list(self)})")

    def _repr_html_(self) -> str:
        title = self.get("title") or self.get("name") or self.get("sweep_dir") or "results"
        parts = [heading(title + (" — QUICK settings (a small version, not the lecture's)" if self.get("quick") else ""))]
        if self.get("table"):
            parts.append(table(self["table"]))
        elif self.get("trials"):
            parts.append(table([{"id": t["id"], **t.get("config", {}), "status": t.get("status"),
                                 **{k: t.get("metrics", {}).get(k) for k in ("val_accuracy", "val_loss")}}
                                for t in self["trials"]]))
        if self.get("best"):
            parts.append(pairs({k: v for k, v in self["best"].items() if k != "config"}, "best trial")
                         + f"<div>{escape(str(self['best'].get('config')))}</div>")
        if self.get("seconds") is not None:
            parts.append(f"<div style='color:#666;font-size:11px'>{self['seconds']:.1f} s</div>")
        parts.append(png_files(self.get("figures") or []))
        return "".join(parts)
