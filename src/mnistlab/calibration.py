"""Calibration: probabilities that say how often the model is right, and when to call an answer unsure.

A network trained to 99% says 99.9% for nearly everything, so its probability alone cannot tell a hard digit from
an easy one. Temperature scaling divides the log-probabilities by one number T before the softmax, fitted after
training on images it did not learn from (the held-aside validation split) by minimising their negative
log-likelihood: T > 1 softens overconfident answers, the predicted class never changes. The expected calibration
error (ECE) measures what is left: the gap between confidence and accuracy, averaged over confidence bins.

NumPy only: `predict --onnx` marks unsure answers without torch.
"""
from __future__ import annotations

import math

import numpy as np

UNSURE_BELOW = 0.85  # calibrated top probability below which an answer is marked unsure (docs/robustness.md: at most 1% of
#                     right answers on the validation splits of default and robust, about two in three errors)
BINS = 15  # equal-width confidence bins of the ECE and the reliability diagram
LOG_T_RANGE = (math.log(0.05), math.log(20.0))  # the temperatures searched; a fitted T at either end is suspect


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of `labels` under softmax(logits / temperature)."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    top = z.max(axis=1)
    log_norm = top + np.log(np.exp(z - top[:, None]).sum(axis=1))
    return float((log_norm - z[np.arange(len(z)), labels]).mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray, steps: int = 60) -> float:
    """The T that minimises the NLL of `labels` under softmax(logits / T): a golden-section search on log T.

    The NLL is convex in 1/T, so the search finds its one minimum; 60 steps narrow log T to about 1e-12.
    `logits` may be any log-probabilities (a log-softmax head's outputs, or the log of a softmax head's)."""
    labels = np.asarray(labels)
    if len(labels) == 0:
        return 1.0
    lo, hi = LOG_T_RANGE
    ratio = (math.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = nll(logits, labels, math.exp(a)), nll(logits, labels, math.exp(b))
    for _ in range(steps):
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = nll(logits, labels, math.exp(a))
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = nll(logits, labels, math.exp(b))
    return math.exp((lo + hi) / 2)


def reliability(probs: np.ndarray, labels: np.ndarray, bins: int = BINS) -> dict:
    """Per equal-width bin of top-class probability: its count, mean confidence and accuracy (None where empty),
    and the ECE: the count-weighted mean |accuracy - confidence|."""
    probs, labels = np.asarray(probs, dtype=np.float64), np.asarray(labels)
    confidence, right = probs.max(axis=1), (probs.argmax(axis=1) == labels).astype(np.float64)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    count = np.bincount(which, minlength=bins)
    mean = lambda v: np.divide(np.bincount(which, v, minlength=bins), count, out=np.zeros(bins), where=count > 0)  # noqa: E731
    conf, acc = mean(confidence), mean(right)
    ece = float((count * np.abs(acc - conf)).sum() / max(len(labels), 1))
    empty = count == 0
    return {"bins": bins, "count": count.tolist(), "ece": ece,
            "confidence": [None if e else float(c) for c, e in zip(conf, empty)],
            "accuracy": [None if e else float(a) for a, e in zip(acc, empty)]}


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = BINS) -> float:
    return reliability(probs, labels, bins)["ece"]


def unsure(probs: np.ndarray, below: float = UNSURE_BELOW) -> np.ndarray:
    """Which answers to mark unsure: their top probability is below `below` (one bool per row of `probs`)."""
    return np.asarray(probs).max(axis=1) < below


def calibration_record(logits: np.ndarray, labels: np.ndarray) -> dict:
    """The temperature fitted on held-aside images, with their NLL and ECE before (T = 1) and after: run.json's
    "calibration"."""
    t = fit_temperature(logits, labels)
    ece = lambda temperature: expected_calibration_error(softmax(logits, temperature), labels)  # noqa: E731
    return {"temperature": t, "n_val": int(len(labels)), "val_nll_before": nll(logits, labels),
            "val_nll_after": nll(logits, labels, t), "val_ece_before": ece(1.0), "val_ece_after": ece(t)}


def before_after(logits: np.ndarray, labels: np.ndarray, temperature: float) -> dict:
    """The reliability of softmax(logits) (T = 1) and of softmax(logits / temperature): what `eval` reports and the
    reliability diagram draws."""
    return {"temperature": float(temperature), "before": reliability(softmax(logits), labels),
            "after": reliability(softmax(logits, temperature), labels)}
