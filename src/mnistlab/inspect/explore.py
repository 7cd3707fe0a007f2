"""Looking at the data before training (L5): random digits, a digit as a vector, class means, correlations.

All numbers come from the training split of a loaded Dataset, as raw uint8 pixels.
"""
from __future__ import annotations

import numpy as np

from ..data import Dataset
from ..errors import UserError

MAX_CORRELATED = 2000  # pairwise correlations grow as n^2: 2000 images is 4 M pairs, a second of work


def random_digits(ds: Dataset, n: int = 32, seed: int = 0) -> dict:
    """`n` distinct random training images with their labels."""
    idx = np.sort(np.random.default_rng(seed).choice(len(ds.train_labels), size=min(n, len(ds.train_labels)), replace=False))
    return {"indices": idx, "images": ds.train_images[idx], "labels": ds.train_labels[idx], "classes": ds.classes}


def digit_vector(ds: Dataset, index: int = 0) -> dict:
    """One training image as the flat vector an FFN sees (784 numbers for MNIST)."""
    if not 0 <= index < len(ds.train_labels):
        raise UserError(f"image index {index} is out of range: {ds.name} has {len(ds.train_labels)} training images")
    image = ds.train_images[index]
    return {"index": index, "image": image, "vector": image.reshape(-1), "label": int(ds.train_labels[index]),
            "classes": ds.classes}


def class_means(ds: Dataset) -> dict:
    """The mean training image of every class (float, 0..255) and how many images each mean is over."""
    counts = np.bincount(ds.train_labels, minlength=ds.n_classes)
    means = np.stack([ds.train_images[ds.train_labels == c].mean(0) if counts[c] else np.zeros(ds.train_images.shape[1:])
                      for c in range(ds.n_classes)])
    return {"means": means, "counts": counts, "classes": ds.classes}


def digit_correlations(ds: Dataset, digit: int = 7, limit: int = MAX_CORRELATED, bins: int = 50) -> dict:
    """Pairwise Pearson correlations between the training images of one class (the first `limit` of them).

    `matrix` is n x n; `histogram` counts the n(n-1)/2 distinct pairs (the diagonal is always 1).
    L5 finds the 7s correlate at about 0.4 on average: similar, far from identical.
    """
    if not 0 <= digit < ds.n_classes:
        raise UserError(f"--digit {digit} is out of range: {ds.name} has classes 0 to {ds.n_classes - 1}")
    members = np.flatnonzero(ds.train_labels == digit)
    if len(members) < 2:
        raise UserError(f"--digit {digit}: {ds.name} has {len(members)} training image(s) of that class; need at least 2")
    if ds.train_images[0].size < 2:
        raise UserError(f"{ds.name}: images of {ds.train_images[0].size} pixel cannot be correlated (a correlation needs "
                        f"at least 2 pixels an image); explore a set of larger images")
    members = members[:limit]
    matrix = np.corrcoef(ds.train_images[members].reshape(len(members), -1).astype(np.float64))
    pairs = matrix[np.triu_indices(len(members), k=1)]
    counts, edges = np.histogram(pairs, bins=bins, range=(-1.0, 1.0))
    return {"digit": digit, "label": ds.classes[digit], "indices": members, "n_images": int(len(members)),
            "n_in_class": int((ds.train_labels == digit).sum()), "matrix": matrix, "pairs_mean": float(pairs.mean()),
            "pairs_median": float(np.median(pairs)), "counts": counts, "edges": edges}
