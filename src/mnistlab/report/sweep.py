"""One self-contained HTML page for a sweep folder: settings, every trial, the best one, the figures.

Same page as a run's report (`report.page`); figures are embedded as data URIs.
"""
from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from ..fileio import write_text
from ..sweep.record import load_sweep
from .page import cards, document, fmt, pct, table

CAPTIONS = {"params": "The metric of every trial against each option that varied (outlined: the best trial; "
                      "grey: stopped early by ASHA).",
            "curves": "The metric after every epoch of every trial; the best one in orange."}


def sweep_report_html(sweep_dir: str | Path) -> str:
    sweep_dir = Path(sweep_dir)
    data = load_sweep(sweep_dir)
    settings, trials, best = data["settings"], data["trials"], data.get("best")
    metric, names = settings["metric"], list(settings["space"])
    count = lambda s: sum(t["status"] == s for t in trials)  # noqa: E731
    numbers = [(str(len(trials)), "trials"), (str(count("finished")), "finished"), (str(count("stopped_early")), "stopped early"),
               (str(count("failed")), "failed"), (pct(best["val_accuracy"]) if best else "-", "best validation accuracy"),
               (pct(best["test_accuracy"]) if best else "-", "best trial's test accuracy"),
               (f"{data.get('seconds', 0):.0f} s", "wall time")]
    rows = [[t["id"], *(fmt(t["config"].get(n)) for n in names), fmt(t.get("params")), t["status"], len(t["history"]),
             pct(t["metrics"]["val_accuracy"]), fmt(t["metrics"]["val_loss"]), pct(t["metrics"]["train_accuracy"]),
             fmt(t["metrics"]["seconds"]), t.get("reason") or ""] for t in trials]
    head = ["trial", *names, "params", "status", "epochs", "val acc", "val loss", "train acc", "seconds", "reason"]
    executor = data.get("executor", {})
    parts = [f"<h1>mnistlab sweep <code>{escape(sweep_dir.name)}</code></h1>",
             f'<p class="sub">{escape(settings["search"])} search over {escape(", ".join(names) or "nothing")} · metric '
             f"{escape(metric)} on {settings['data']['val']} validation images of {escape(settings['data']['dataset'])} · "
             f"{escape(str(executor.get('executor', '?')))} executor</p>", cards(numbers)]
    if best:
        parts.append(f"<p>Best trial <code>{escape(best['id'])}</code>: "
                     + ", ".join(f"{escape(k)} <code>{escape(fmt(v))}</code>" for k, v in best["config"].items())
                     + f". Saved as a run directory (<code>{escape(str(best['run_dir']))}</code>): "
                       f"<code>mnistlab report {escape(str(best['run_dir']))}</code> shows its figures. "
                       "The test accuracy is reported, never used to choose.</p>")
    parts += ['<section id="space"><h2>Search space</h2>',
              table([[k, fmt(v)] for k, v in settings["space"].items()]
                     + [[k, f"{fmt(v)} (fixed)"] for k, v in settings["fixed"].items()], ["option", "values"]),
              (f"<p>Left out: {escape('; '.join(f'{s}: {r}' for s, r in settings['rejected_models'].items()))}</p>"
               if settings.get("rejected_models") else ""), "</section>",
              '<section id="trials"><h2>Trials</h2>',
              table(rows, head, numeric={len(names) + i for i in (1, 3, 4, 5, 6, 7)}), "</section>",
              '<section id="figures"><h2>Figures</h2>']
    for name, caption in CAPTIONS.items():
        path = sweep_dir / "figures" / f"{name}.png"
        if path.is_file():
            uri = "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
            parts.append(f'<figure id="fig-{name}"><img src="{uri}" alt="{name} figure">'
                         f"<figcaption><b>{name}</b>: {escape(caption)}</figcaption></figure>")
    parts.append("</section>")
    return document(f"mnistlab sweep: {sweep_dir.name}", parts)


def write_sweep_report(sweep_dir: str | Path, out: str | Path | None = None) -> Path:
    path = Path(out) if out else Path(sweep_dir) / "report.html"
    write_text(path, sweep_report_html(sweep_dir))
    return path
