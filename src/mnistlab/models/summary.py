"""The layer table: every module with its output shape and parameter count."""
from __future__ import annotations

from .build import Net


def summary_rows(model: Net) -> list[dict]:
    return [dict(row) for row in model.rows]


def summary_text(model: Net) -> str:
    cfg = model.config
    lines = [f"model '{cfg.spec}'  activation {cfg.activation}  head {cfg.head}  input {'x'.join(map(str, cfg.input_shape))}",
             f"{'layer':<10}{'token':<12}{'output shape':<16}{'params':>10}"]
    for row in model.rows:
        shape = "x".join(map(str, row["output_shape"]))
        lines.append(f"{row['name']:<10}{row['token']:<12}{shape:<16}{row['params']:>10,}")
    lines.append(f"{'total':<38}{sum(r['params'] for r in model.rows):>10,}")
    return "\n".join(lines)
