"""One self-contained HTML page per run: spec, data, options, metrics, layer table and every figure.

Figures are embedded as PNG data URIs and the style sheet is inline, so the file
opens anywhere (mail it, archive it, print it) without fetching anything.
"""
from __future__ import annotations

import base64
import json
from collections.abc import Callable
from html import escape
from pathlib import Path

from .fileio import write_text
from .inspect.numbers import WHAT
from .inspect.predictions import Predictions, confusion_cells, predict_test_set
from .train.run import Run

CAPTIONS = {
    "summary": "The layer table: every module with its output shape and number of parameters.",
    "curves": "Loss and accuracy per epoch on each split. Losses depend on scale, accuracy does not: read both.",
    "filters": "The first layer's weights as images (red positive, blue negative, white zero).",
    "featuremaps": "One test digit through the network: each conv layer's filters beside its activated outputs "
                   "(for an FFN, each hidden layer's activations).",
    "weights": "Histogram of every parameter at initialisation and after training; with --record-weights, after every epoch.",
    "probs": "Test images beside their class probabilities.",
    "confusion": "Confusion matrix of the whole test set and the accuracy of each class.",
    "errors": "The most confident mistakes on the test set, with the top-3 classes.",
    "attribution": "Which pixels the predicted class rests on, for random test digits and the most confident mistakes: "
                   "saliency, integrated gradients and occlusion (red: for the class, blue: against it).",
    "embedding": "The test set's penultimate-layer features in 2-D, coloured by true class, mistakes as crosses, "
                 "typical digits of each class drawn where they land.",
}

STYLE = """
:root { color-scheme: light; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d232a; margin: 0; background: #f6f7f9; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 48px; background: #fff; }
h1 { font-size: 1.6em; margin: 0 0 4px; }
h2 { font-size: 1.2em; margin: 32px 0 10px; border-bottom: 1px solid #e3e6ea; padding-bottom: 4px; }
.sub { color: #5b6570; margin: 0 0 18px; }
code { font: 0.92em ui-monospace, Menlo, Consolas, monospace; background: #f0f2f5; padding: 1px 4px; border-radius: 3px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 12px 0; }
.card { border: 1px solid #e3e6ea; border-radius: 8px; padding: 8px 14px; min-width: 130px; }
.card b { display: block; font-size: 1.35em; } .card span { color: #5b6570; font-size: 0.85em; }
table { border-collapse: collapse; font-size: 0.9em; margin: 6px 0; }
th, td { border-bottom: 1px solid #e3e6ea; padding: 3px 12px 3px 0; text-align: left; vertical-align: top; }
th { color: #5b6570; font-weight: 600; } td.num, th.num { text-align: right; padding-left: 12px; font-variant-numeric: tabular-nums; }
figure { margin: 18px 0 28px; } figure img { max-width: 100%; height: auto; display: block; border: 1px solid #eef0f3; }
figcaption { color: #5b6570; font-size: 0.9em; margin-top: 6px; }
.cm-table { border-collapse: separate; border-spacing: 2px; font-variant-numeric: tabular-nums; }
.cm-table th { font-size: 0.85em; padding: 2px 6px; text-align: center; border: 0; }
.cm-cell { min-width: 42px; text-align: center; padding: 4px 2px; border: 0; border-radius: 3px; cursor: default;
           background: rgba(214, 39, 40, calc(var(--cm-shade) * 0.8)); }
.cm-cell.cm-diag { background: #e6f2e6; } .cm-cell[tabindex] { cursor: pointer; } .cm-cell[tabindex]:hover { outline: 2px solid #1f77b4; }
.cm-cell.cm-selected { outline: 2px solid #1d232a; } .cm-sum, .cm-hint { color: #5b6570; font-size: 0.9em; }
.cm-tiles { display: flex; flex-wrap: wrap; gap: 8px; } .cm-title { font-size: 1em; margin: 12px 0 6px; }
.cm-tile { margin: 0; width: 86px; font-size: 0.78em; color: #5b6570; }
.cm-tile canvas { width: 84px; height: 84px; image-rendering: pixelated; border: 1px solid #dfe3e8; display: block; }
.cm-tile figcaption { display: flex; flex-direction: column; margin: 2px 0 0; }
@media print {
  body { background: #fff; font-size: 11pt; } main { max-width: none; padding: 0; }
  figure, table, .cards { break-inside: avoid; } h2 { break-after: avoid; }
}
"""


def _table(rows: list[list], head: list[str], numeric: set[int] = frozenset()) -> str:
    cls = lambda i: ' class="num"' if i in numeric else ""  # noqa: E731
    out = ["<table><thead><tr>", *(f"<th{cls(i)}>{escape(h)}</th>" for i, h in enumerate(head)), "</tr></thead><tbody>"]
    for row in rows:
        out.append("<tr>" + "".join(f"<td{cls(i)}>{escape(str(v))}</td>" for i, v in enumerate(row)) + "</tr>")
    return "".join(out) + "</tbody></table>"


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"


def _script_json(obj) -> str:
    """JSON that cannot end the <script> element holding it."""
    return json.dumps(obj, separators=(",", ":")).replace("</", "<\\/")


def confusion_explorer(predictions: Predictions) -> str:
    """The confusion matrix as a table whose cells open the test images behind them; data and code inline."""
    script = (Path(__file__).parent / "serve" / "static" / "confusion.js").read_text()
    return ('<div id="confusion-explorer"><h3>Confusion matrix: click a cell for its images</h3><div id="cm-root"></div>'
            f'<script type="application/json" id="cm-data">{_script_json(confusion_cells(predictions))}</script>'
            f"<script>{script}\nconfusionMatrix(document.getElementById('cm-root'), "
            "JSON.parse(document.getElementById('cm-data').textContent));</script></div>")


def report_html(run: Run, *, predictions: Predictions | None = None, sample: list[int] | None = None,
                n: int | None = None, on_figure: Callable[[int, int, str], None] | None = None) -> str:
    """The report page as a string; `predictions` reuses a test-set evaluation, `sample`/`n` go to the figures.

    `on_figure(i, count, what)` is called before figure i (1-based) of `count` is drawn (for progress).
    """
    from .plots import png_bytes, render

    meta = {}
    if run.run_dir is not None and (Path(run.run_dir) / "run.json").is_file():
        meta = json.loads((Path(run.run_dir) / "run.json").read_text())
    cfg, data, final = run.model.config, run.data, run.final
    name = Path(run.run_dir).name if run.run_dir else "run"
    predictions = predictions or predict_test_set(run)
    total_params = sum(r["params"] for r in run.model.rows)
    seconds = sum(r.get("seconds", 0) for r in run.history)
    cards = [(_pct(final.get("test_accuracy")), "test accuracy"), (_fmt(final.get("test_loss")), "test loss"),
             (f"{run.train.get('epochs_trained', len(run.history)):g}", "epochs"), (f"{total_params:,}", "parameters"),
             (f"{seconds:.1f} s", "training time")]
    parts = [f"<h1>mnistlab run <code>{escape(name)}</code></h1>",
             f'<p class="sub">model <code>{escape(cfg.spec or "(no hidden layers)")}</code> · activation {escape(cfg.activation)} · '
             f"head {escape(cfg.head)} · trained on {escape(str(data.get('name', '?')))}"
             + (f" · created {escape(meta['created'])}" if meta.get("created") else "")
             + (f" · mnistlab {escape(meta['mnistlab'])}" if meta.get("mnistlab") else "") + "</p>",
             '<div class="cards">' + "".join(f"<div class=\"card\"><b>{escape(v)}</b><span>{escape(k)}</span></div>"
                                             for v, k in cards) + "</div>",
             '<section id="data"><h2>Data</h2>',
             _table([[k, _fmt(data.get(k))] for k in ("name", "source", "path", "n_train", "n_val", "n_test", "normalize")
                     if k in data], ["", "value"]),
             f"<p>Figures below use the {escape(predictions.dataset)} test set ({len(predictions.labels):,} images, "
             f"from {escape(predictions.source)}).</p></section>",
             '<section id="options"><h2>Options</h2>',
             _table([[k, _fmt(v)] for k, v in run.train.items()], ["option", "value"]), "</section>",
             '<section id="metrics"><h2>Metrics per epoch</h2>',
             _table([[r["epoch"], _fmt(r["train_loss"]), _pct(r["train_accuracy"]), _fmt(r.get("val_loss")),
                      _pct(r.get("val_accuracy")), _fmt(r["test_loss"]), _pct(r["test_accuracy"]), f"{r.get('seconds', 0):.1f}"]
                     for r in run.history],
                    ["epoch", "train loss", "train acc", "val loss", "val acc", "test loss", "test acc", "seconds"],
                    numeric=set(range(8))), "</section>",
             '<section id="layers"><h2>Layers</h2>',
             _table([[r["name"], r["token"], "x".join(map(str, r["output_shape"])), f"{r['params']:,}"] for r in run.model.rows]
                    + [["total", "", "", f"{total_params:,}"]], ["layer", "token", "output shape", "parameters"], {3}),
             "</section>", '<section id="figures"><h2>Figures</h2>']
    for i, what in enumerate(WHAT, start=1):
        if on_figure is not None:
            on_figure(i, len(WHAT), what)
        png = png_bytes(render(run, what, predictions=predictions, sample=sample, n=n))
        uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        parts.append(f'<figure id="fig-{what}"><img src="{uri}" alt="{escape(what)} figure">'
                     f"<figcaption><b>{escape(what)}</b>: {escape(CAPTIONS[what])}</figcaption></figure>")
        if what == "confusion":
            parts.append(confusion_explorer(predictions))
    parts.append("</section>")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>mnistlab report: {escape(name)}</title><style>{STYLE}</style></head>"
            f"<body><main>{''.join(parts)}</main></body></html>\n")


def write_report(run: Run, out: str | Path | None = None, **kw) -> Path:
    """Write the report atomically to `out` (default: report.html in the run directory)."""
    path = Path(out) if out else Path(run.run_dir or ".") / "report.html"
    write_text(path, report_html(run, **kw))
    return path
