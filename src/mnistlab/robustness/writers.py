"""Digits kept aside, from other writers and another scanner: UCI's optdigits as scikit-learn ships them
(`sklearn.datasets.load_digits`, no download: 1,797 digits by 43 writers, scanned to 8x8 blocks of 0..16).
MNIST never saw these hands or this scanner. Each digit goes through predict's preparation, as a user's file
would; without scikit-learn (the `embedding` extra) the check is skipped."""
from __future__ import annotations

import importlib.util

import numpy as np

from ..train.run import run_accuracy
from .corruptions import prepared

SOURCE = "UCI optdigits (scikit-learn's load_digits): 1,797 digits by 43 writers, scanned at 8x8"
MISSING = "scikit-learn is not installed; pip install 'mnistlab[embedding]'"


def other_writers() -> tuple[np.ndarray, np.ndarray] | None:
    """The digits brought to MNIST form by predict's preparation (uint8 (1797, 28, 28)) and their labels, or
    None without scikit-learn."""
    if importlib.util.find_spec("sklearn") is None:
        return None
    # scikit-learn: the optional embedding extra; the digits ship inside it
    from sklearn.datasets import load_digits

    digits = load_digits()
    scans = np.round(digits.images * (255 / 16)).astype(np.uint8)  # 0..16 ink counts as 8-bit gray, ink high
    return prepared(scans), np.asarray(digits.target)


def score_writers(run, digits: tuple[np.ndarray, np.ndarray]) -> dict:
    """`run`'s accuracy on the prepared digits of `other_writers`: {accuracy, images, source}."""
    images, labels = digits
    return {"accuracy": run_accuracy(run, images, labels)[0], "images": int(len(labels)), "source": SOURCE}
