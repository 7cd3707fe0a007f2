"""Stratified hold-out: the same share of every class goes to the test set, by a seeded draw."""
from __future__ import annotations

import numpy as np


def stratified_holdout(labels: np.ndarray, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test): round(fraction * n_c) of each class c go to test; train is shuffled, test sorted."""
    rng = np.random.default_rng(seed)
    test = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        test[members[: round(len(members) * fraction)]] = True
    return rng.permutation(np.flatnonzero(~test)), np.flatnonzero(test)
