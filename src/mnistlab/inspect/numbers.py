"""The numbers behind every figure of a run, by name, and their JSON form.

`numbers(run, what)` is what `mnistlab inspect` plots and writes beside each
PNG; notebooks can call it (or the functions it names) and plot their own.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import UserError
from ..train.run import Run
from .activations import feature_maps, first_layer_weights
from .attribution import attributions
from .curves import learning_curves
from .embedding import embedding
from .histograms import weight_histograms
from .kinds import WHAT
from .predictions import Predictions, class_probabilities, confusion, mistakes, predict_test_set, sample_indices


def numbers(run: Run, what: str, *, sample: list[int] | None = None, n: int | None = None,
            predictions: Predictions | None = None, seed: int = 0) -> dict:
    """The numbers behind figure `what` (see WHAT) as arrays and plain dicts.

    `sample`: test indices for probs and attribution (all of them) and featuremaps (the first; default: random);
    `n`: how many samples for probs (default 10), mistakes for errors (default 24), samples and mistakes
    for attribution (default 6 each);
    `predictions`: a Predictions to reuse across figures (computed when needed otherwise).
    """
    if what not in WHAT:
        raise UserError(f"unknown figure {what!r}; choose one of: {', '.join(WHAT)}, all")
    if what == "curves":
        return {**learning_curves(run.history), "final": run.final}
    if what == "filters":
        return {"weights": first_layer_weights(run.model, rgb=True), "layer": next(r for r in run.model.rows if r["params"]),
                "is_cnn": run.model.is_cnn}
    if what == "weights":
        return weight_histograms(run.model, run.extras.get("weight_histograms"))
    if what == "summary":
        return {"config": run.model.config.to_dict(), "rows": [dict(r) for r in run.model.rows],
                "total_params": sum(r["params"] for r in run.model.rows)}
    pred = predictions or predict_test_set(run)
    if what == "featuremaps":
        index = int(sample_indices(len(pred.labels), 1, sample[:1] if sample else None, seed)[0])
        return {**feature_maps(run, pred.images[index]), "index": index, "label": int(pred.labels[index])}
    if what == "probs":
        return class_probabilities(pred, sample, n or 10, seed)
    if what == "confusion":
        return confusion(pred)
    if what == "attribution":
        return attributions(run, pred, sample, n or 6, seed)
    if what == "embedding":
        return embedding(run, pred, seed)
    return mistakes(pred, n or 24)


def jsonable(obj: Any) -> Any:
    """Arrays → nested lists, NumPy scalars → Python numbers, tuples → lists, recursively."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj
