"""matplotlib figures of the inspection numbers (`mnistlab.inspect`): one function per figure.

Each figure function takes the dict its numbers function returns; `render`
does both steps for a run, `png_bytes` turns any figure into PNG bytes.
Figures are plain `matplotlib.figure.Figure`s on the Agg backend, never
registered with pyplot, so servers and threads can make them freely.
"""
from __future__ import annotations

from collections.abc import Callable

from matplotlib.figure import Figure

from ..inspect.numbers import WHAT, numbers
from ..train.run import Run
from . import data, insight, network, predictions, training
from .style import png_bytes

FIGURES: dict[str, Callable[[dict], Figure]] = {
    "curves": training.curves, "filters": network.filters, "featuremaps": network.featuremaps,
    "weights": training.weights, "probs": predictions.probs, "confusion": predictions.confusion,
    "errors": predictions.errors, "summary": network.summary, "attribution": insight.attribution,
    "embedding": insight.embedding,
}
EXPLORE: dict[str, Callable[[dict], Figure]] = {
    "digits": data.random_digits, "vector": data.digit_vector, "means": data.class_means,
    "correlations": data.correlation_matrix, "correlation-histogram": data.correlation_histogram,
}


def render(run: Run, what: str, **kw) -> Figure:
    """Figure `what` (one of WHAT) for a run; keywords go to `mnistlab.inspect.numbers` (sample, n, predictions, seed)."""
    return FIGURES[what](numbers(run, what, **kw))


__all__ = ["EXPLORE", "FIGURES", "WHAT", "png_bytes", "render"]
