"""The plain-text table that experiments and sweeps print (Jupyter's HTML tables format their cells the same way)."""
from __future__ import annotations


def pct(x: float | None) -> str:
    """A fraction as a percentage with two decimals, as every command and table prints accuracies; None as '-'."""
    return "-" if x is None else f"{100 * x:.2f}%"


def cell_text(column: str, value) -> str:
    """A value as tables show it: floats in [0, 1] under an accuracy column as percentages, other floats to 4 digits."""
    if value is None:
        return "-"
    if isinstance(value, float):
        if "accuracy" in column or column.startswith("fraction") or column.endswith("%"):
            return pct(value)
        return f"{value:.4g}"
    return str(value)


def format_table(rows: list[dict]) -> str:
    """A plain text table; floats in [0, 1] under an accuracy column print as percentages."""
    if not rows:
        return ""
    columns = list(rows[0])
    for row in rows[1:]:
        columns += [c for c in row if c not in columns]
    cells = [[cell_text(c, row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join(lines)
