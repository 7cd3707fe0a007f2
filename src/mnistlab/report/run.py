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

from ..fileio import write_text
from ..inspect.kinds import WHAT
from ..inspect.predictions import Predictions, confusion_cells, predict_test_set, sample_indices
from ..plots import png_bytes, render
from ..plots.robustness import examples
from ..robustness.corruptions import CORRUPTIONS
from ..train.run import Run
from .page import cards, document, fmt, pct, table

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


def _script_json(obj) -> str:
    """JSON that cannot end the <script> element holding it."""
    return json.dumps(obj, separators=(",", ":")).replace("</", "<\\/")


def confusion_explorer(predictions: Predictions) -> str:
    """The confusion matrix as a table whose cells open the test images behind them; data and code inline."""
    script = (Path(__file__).parent.parent / "serve" / "static" / "confusion.js").read_text()
    return ('<div id="confusion-explorer"><h3>Confusion matrix: click a cell for its images</h3><div id="cm-root"></div>'
            f'<script type="application/json" id="cm-data">{_script_json(confusion_cells(predictions))}</script>'
            f"<script>{script}\nconfusionMatrix(document.getElementById('cm-root'), "
            "JSON.parse(document.getElementById('cm-data').textContent));</script></div>")


def _heading(run: Run, name: str) -> list[str]:
    """Title, the one-line description and the cards of headline numbers."""
    meta = {}
    if run.run_dir is not None and (Path(run.run_dir) / "run.json").is_file():
        meta = json.loads((Path(run.run_dir) / "run.json").read_text())
    cfg, final = run.model.config, run.final
    total_params = sum(r["params"] for r in run.model.rows)
    seconds = sum(r.get("seconds", 0) for r in run.history)
    return [f"<h1>mnistlab run <code>{escape(name)}</code></h1>",
            f'<p class="sub">model <code>{escape(cfg.spec or "(no hidden layers)")}</code> · activation {escape(cfg.activation)} · '
            f"head {escape(cfg.head)} · trained on {escape(str(run.data.get('name', '?')))}"
            + (f" · created {escape(meta['created'])}" if meta.get("created") else "")
            + (f" · mnistlab {escape(meta['mnistlab'])}" if meta.get("mnistlab") else "") + "</p>",
            cards([(pct(final.get("test_accuracy")), "test accuracy"), (fmt(final.get("test_loss")), "test loss"),
                   (f"{run.train.get('epochs_trained', len(run.history)):g}", "epochs"), (f"{total_params:,}", "parameters"),
                   (f"{seconds:.1f} s", "training time")])]


def _tables(run: Run, predictions: Predictions) -> list[str]:
    """The data, options, per-epoch metrics and layer sections."""
    data = run.data
    total_params = sum(r["params"] for r in run.model.rows)
    return ['<section id="data"><h2>Data</h2>',
            table([[k, fmt(data.get(k))] for k in ("name", "source", "path", "n_train", "n_val", "n_test", "normalize")
                   if k in data], ["", "value"]),
            f"<p>Figures below use the {escape(predictions.dataset)} test set ({len(predictions.labels):,} images, "
            f"from {escape(predictions.source)}).</p></section>",
            '<section id="options"><h2>Options</h2>',
            table([[k, fmt(v)] for k, v in run.train.items()], ["option", "value"]), "</section>",
            '<section id="metrics"><h2>Metrics per epoch</h2>',
            table([[r["epoch"], fmt(r["train_loss"]), pct(r["train_accuracy"]), fmt(r.get("val_loss")),
                    pct(r.get("val_accuracy")), fmt(r["test_loss"]), pct(r["test_accuracy"]), f"{r.get('seconds', 0):.1f}"]
                   for r in run.history],
                  ["epoch", "train loss", "train acc", "val loss", "val acc", "test loss", "test acc", "seconds"],
                  numeric=set(range(8))), "</section>",
            '<section id="layers"><h2>Layers</h2>',
            table([[r["name"], r["token"], "x".join(map(str, r["output_shape"])), f"{r['params']:,}"] for r in run.model.rows]
                  + [["total", "", "", f"{total_params:,}"]], ["layer", "token", "output shape", "parameters"], {3}),
            "</section>"]


def robustness_section(result: dict) -> list[str]:
    """The corruption benchmark's numbers for this run (from `mnistlab robustness`) and its example figure."""
    rows = [[name, CORRUPTIONS[name].family if name in CORRUPTIONS else "?", *(pct(a) for a in sev["raw"]),
             *(pct(a) for a in sev["prepared"])] for name, sev in result["severities"].items()]
    png = png_bytes(examples(result))
    return ['<section id="robustness"><h2>Robustness</h2>',
            f"<p>Corrupted {escape(str(result.get('source', 'test')))} digits (seed {result.get('seed', 0)}): clean "
            f"{pct(result['clean_accuracy'])}, mean through predict's preparation {pct(result['mean_accuracy'])}, worst "
            f"{escape(result['worst']['name'])} {pct(result['worst']['accuracy'])}.</p>",
            table(rows, ["corruption", "family", "raw 1", "raw 2", "raw 3", "prepared 1", "prepared 2", "prepared 3"],
                  set(range(2, 8))),
            f'<figure><img src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}" alt="robustness examples">'
            "<figcaption>One test digit per corruption at each severity, as the file was and after predict's "
            "preparation, with the model's answers (green right, red wrong).</figcaption></figure></section>"]


def report_html(run: Run, *, predictions: Predictions | None = None, sample: list[int] | None = None,
                n: int | None = None, on_figure: Callable[[int, int, str], None] | None = None,
                robustness: dict | None = None) -> str:
    """The report page as a string; `predictions` reuses a test-set evaluation, `sample`/`n` go to the figures;
    `robustness` (this run's entry of a robustness.json) adds the corruption benchmark.

    `on_figure(i, count, what)` is called before figure i (1-based) of `count` is drawn (for progress).
    """
    name = Path(run.run_dir).name if run.run_dir else "run"
    predictions = predictions or predict_test_set(run)
    if sample is not None:
        sample_indices(len(predictions.labels), indices=sample)  # an index out of range: refused before any figure
    parts = [*_heading(run, name), *_tables(run, predictions), '<section id="figures"><h2>Figures</h2>']
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
    if robustness is not None:
        parts += robustness_section(robustness)
    return document(f"mnistlab report: {name}", parts)


def write_report(run: Run, out: str | Path | None = None, **kw) -> Path:
    """Write the report atomically to `out` (default: report.html in the run directory)."""
    path = Path(out) if out else Path(run.run_dir or ".") / "report.html"
    write_text(path, report_html(run, **kw))
    return path
