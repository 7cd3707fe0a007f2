"""Weight histograms: the numbers behind the `weights` figure, from a model and the record its run kept.

The recording itself happens while a run trains (train/weights.py: `WeightRecorder`).
"""
from __future__ import annotations

import numpy as np
from torch import nn

from ..train.weights import fixed_edges, histogram, parameter_values


def weight_histograms(model: nn.Module, record: dict | None = None) -> dict:
    """The numbers behind the `weights` figure, all over the same bins (the record's, else L5's).

    `trained`: the model now; `initial`: epoch 0 of the record (None without one);
    `epochs`: the per-epoch record when there is more than epoch 0 (else None).
    """
    edges = np.asarray(record["edges"]) if record else fixed_edges()
    trained = histogram(parameter_values(model), edges)
    initial = epochs = None
    if record:
        initial = {"counts": np.asarray(record["counts"][0]), "below": record["below"][0], "above": record["above"][0],
                   "n": int(record["n_parameters"])}
        if len(record["epochs"]) > 1:
            epochs = {"epochs": np.asarray(record["epochs"]), "counts": np.asarray(record["counts"]),
                      "below": np.asarray(record["below"]), "above": np.asarray(record["above"])}
    return {"edges": edges, "n_parameters": trained["n"], "initial": initial, "trained": trained, "epochs": epochs}
