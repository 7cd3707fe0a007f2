"""Weight histograms a run records while it trains: every parameter in fixed bins, at initialisation and after epochs.

L5 records all parameters in 100 bins over [-0.8, 0.8] after every epoch and
watches PyTorch's uniform initialisation spread into a wider, bell-shaped
distribution. Values outside the range are counted in `below` / `above`, so
`counts.sum() + below + above` is always the number of parameters. The run keeps the record
(`extras["weight_histograms"]`); inspect/histograms.py reads it back for the `weights` figure.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch's: BINS and RANGE are read by modules `--help` loads
    from torch import nn

BINS, RANGE = 100, (-0.8, 0.8)


def parameter_values(model: nn.Module) -> np.ndarray:
    """Every trainable number of the model (weights and biases) as one float64 vector."""
    return np.concatenate([p.detach().float().cpu().numpy().ravel() for p in model.parameters()]).astype(np.float64)


def histogram(values: np.ndarray, edges: np.ndarray) -> dict:
    """Counts of `values` in the bins `edges`, plus how many fell below and above them."""
    counts, _ = np.histogram(values, bins=edges)
    return {"counts": counts, "below": int((values < edges[0]).sum()), "above": int((values > edges[-1]).sum()),
            "n": int(len(values))}


def fixed_edges(bins: int = BINS, range: tuple[float, float] = RANGE) -> np.ndarray:
    return np.linspace(range[0], range[1], bins + 1)


class WeightRecorder:
    """Records the histogram at initialisation and, with `every_epoch`, after each epoch.

    Use it as fit's `on_epoch` callback; `record` is the JSON-able dict a run keeps
    in `extras["weight_histograms"]`.
    """

    def __init__(self, model: nn.Module, every_epoch: bool = True, bins: int = BINS, range: tuple[float, float] = RANGE):
        self.edges = fixed_edges(bins, range)
        self.every_epoch = every_epoch
        self.rows: list[tuple[int, dict]] = []
        self.add(0, model)

    def add(self, epoch: int, model: nn.Module) -> None:
        self.rows.append((epoch, histogram(parameter_values(model), self.edges)))

    def __call__(self, row: dict, model: nn.Module) -> None:
        if self.every_epoch:
            self.add(row["epoch"], model)

    @property
    def record(self) -> dict:
        return {"edges": self.edges.tolist(), "epochs": [e for e, _ in self.rows],
                "counts": [h["counts"].tolist() for _, h in self.rows],
                "below": [h["below"] for _, h in self.rows], "above": [h["above"] for _, h in self.rows],
                "n_parameters": self.rows[0][1]["n"]}
