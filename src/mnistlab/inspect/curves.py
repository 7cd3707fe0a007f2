"""Learning curves: loss and accuracy per epoch for each split a run evaluated."""
from __future__ import annotations

import numpy as np

SPLITS = ("train", "val", "test")


def learning_curves(history: list[dict]) -> dict:
    """{"epochs": [...], "loss": {split: [...]}, "accuracy": {split: [...]}}, leaving out splits never evaluated.

    L5's lesson needs both: losses depend on scale, accuracy does not, so they can disagree.
    """
    out: dict = {"epochs": np.asarray([row["epoch"] for row in history]), "loss": {}, "accuracy": {}}
    for metric in ("loss", "accuracy"):
        for split in SPLITS:
            values = [row.get(f"{split}_{metric}") for row in history]
            if values and all(v is not None for v in values):
                out[metric][split] = np.asarray(values, dtype=np.float64)
    return out
