"""What a trained run says about the test set: probabilities, confusion, mistakes.

`predict_test_set` evaluates the run once; the other functions slice that result
into the numbers behind the `probs`, `confusion` and `errors` figures.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass

import numpy as np

from ..errors import UserError
from ..evaluate import load_run_dataset
from ..train.metrics import confusion_matrix, per_class_accuracy
from ..train.run import Run


@dataclass
class Predictions:
    """The run's class probabilities for every test image, with the images and labels."""

    images: np.ndarray  # uint8 (N, H, W), raw pixels
    labels: np.ndarray  # int64 (N,)
    probs: np.ndarray  # float32 (N, classes), rows sum to 1
    classes: tuple[str, ...]
    dataset: str
    source: str

    @property
    def predicted(self) -> np.ndarray:
        return self.probs.argmax(1)

    @property
    def accuracy(self) -> float:
        return float((self.predicted == self.labels).mean())


def predict_test_set(run: Run, dataset: str | None = None, data_dir: str | None = None, read=None) -> Predictions:
    """Evaluate the run on the test split of its data set (or of `dataset`)."""
    ds = load_run_dataset(run, dataset, data_dir, read)
    _, probs = run.predict(ds.test_images)
    return Predictions(ds.test_images, ds.test_labels, probs, run.classes, ds.name, ds.source)


def sample_indices(n_total: int, n: int = 10, indices: list[int] | None = None, seed: int = 0) -> np.ndarray:
    """The chosen test indices (checked), or `n` distinct random ones drawn with `seed`."""
    if indices is not None:
        bad = [i for i in indices if not 0 <= i < n_total]
        if bad:
            raise UserError(f"--sample {bad[0]} is out of range: the test set has {n_total} images; use 0 to {n_total - 1}")
        return np.asarray(indices, dtype=np.int64)
    if n < 1:
        raise UserError(f"--n {n}: must be at least 1")
    return np.sort(np.random.default_rng(seed).choice(n_total, size=min(n, n_total), replace=False))


def class_probabilities(pred: Predictions, indices: list[int] | None = None, n: int = 10, seed: int = 0) -> dict:
    """Images, labels, predictions and class probabilities of some test samples (L1, L5's evidence plots)."""
    idx = sample_indices(len(pred.labels), n, indices, seed)
    return {"indices": idx, "images": pred.images[idx], "labels": pred.labels[idx], "predicted": pred.predicted[idx],
            "probs": pred.probs[idx], "classes": pred.classes}


def confusion(pred: Predictions) -> dict:
    """counts[true, predicted] over the whole test set, per-class accuracy and overall accuracy."""
    matrix = confusion_matrix(pred.labels, pred.predicted, len(pred.classes))
    return {"matrix": matrix, "per_class_accuracy": per_class_accuracy(matrix), "accuracy": pred.accuracy,
            "n_test": int(len(pred.labels)), "classes": pred.classes}


def mistakes(pred: Predictions, n: int = 24, top: int = 3) -> dict:
    """Misclassified test images, most confident mistakes first, with their top-`top` classes and probabilities."""
    wrong = np.flatnonzero(pred.predicted != pred.labels)
    confidence = pred.probs[wrong, pred.predicted[wrong]]
    order = wrong[np.argsort(-confidence, kind="stable")][:n]
    top_classes = np.argsort(-pred.probs[order], axis=1, kind="stable")[:, :top]
    return {"indices": order, "images": pred.images[order], "labels": pred.labels[order],
            "predicted": pred.predicted[order], "top_classes": top_classes,
            "top_probs": np.take_along_axis(pred.probs[order], top_classes, axis=1),
            "n_errors": int(len(wrong)), "n_test": int(len(pred.labels)), "classes": pred.classes}


def confusion_cells(pred: Predictions, per_cell: int = 24, top: int = 3) -> dict:
    """The test images behind each confusion-matrix cell, for pages where a click on a cell shows them.

    cells["t,p"] lists up to `per_cell` images with true class t and prediction p, the most confident
    first (for a mistake: the worst ones); each has its test index, its pixels as base64 of the raw
    row-major uint8 bytes (small enough to embed in a self-contained page) and its top classes.
    """
    matrix = confusion(pred)["matrix"]
    confidence = pred.probs[np.arange(len(pred.labels)), pred.predicted]
    cells: dict[str, list[dict]] = {}
    for t, p in zip(*(axis.tolist() for axis in np.nonzero(matrix))):
        members = np.flatnonzero((pred.labels == t) & (pred.predicted == p))
        chosen = members[np.argsort(-confidence[members], kind="stable")][:per_cell]
        cells[f"{t},{p}"] = []
        for i in chosen:
            order = np.argsort(-pred.probs[i], kind="stable")[:top]
            pixels = base64.b64encode(np.ascontiguousarray(pred.images[i], dtype=np.uint8).tobytes()).decode("ascii")
            cells[f"{t},{p}"].append({"index": int(i), "pixels": pixels,
                                      "top": [[int(c), round(float(pred.probs[i, c]), 4)] for c in order]})
    height, width = pred.images.shape[-2:]
    channels = pred.images.shape[1] if pred.images.ndim == 4 else 1  # colour: the bytes are channels first
    return {"matrix": matrix.tolist(), "classes": list(pred.classes), "height": int(height), "width": int(width),
            "channels": int(channels),
            "per_cell": per_cell, "cells": cells}
