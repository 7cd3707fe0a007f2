"""What every HTML page of mnistlab shares: the style sheet, tables, number formats and the document around a body.

A run's report (`report.run`) and a sweep's (`report.sweep`) are both one self-contained file: the style is inline.
"""
from __future__ import annotations

import json
from html import escape

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


def table(rows: list[list], head: list[str], numeric: set[int] = frozenset()) -> str:
    cls = lambda i: ' class="num"' if i in numeric else ""  # noqa: E731
    out = ["<table><thead><tr>", *(f"<th{cls(i)}>{escape(h)}</th>" for i, h in enumerate(head)), "</tr></thead><tbody>"]
    for row in rows:
        out.append("<tr>" + "".join(f"<td{cls(i)}>{escape(str(v))}</td>" for i, v in enumerate(row)) + "</tr>")
    return "".join(out) + "</tbody></table>"


def fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def pct(x) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"


def cards(items: list[tuple[str, str]]) -> str:
    """Big numbers in a row: (value, label) pairs."""
    return ('<div class="cards">' + "".join(f'<div class="card"><b>{escape(v)}</b><span>{escape(k)}</span></div>'
                                            for v, k in items) + "</div>")


def document(title: str, body: list[str]) -> str:
    """The whole page: `body` parts inside <main>, the style inline."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
            f"<body><main>{''.join(body)}</main></body></html>\n")
