"""Facts about a loaded data set, for `mnistlab data info` and notebooks."""
from __future__ import annotations

import numpy as np

from .dataset import Dataset


def data_info(ds: Dataset) -> dict:
    counts = np.bincount(ds.train_labels, minlength=ds.n_classes)
    return {**ds.describe(),
            "channels": ds.shape[0], "height": ds.shape[1], "width": ds.shape[2],
            "classes": list(ds.classes),
            "class_counts": {c: int(n) for c, n in zip(ds.classes, counts)},
            "test_class_counts": {c: int(n) for c, n in zip(ds.classes, np.bincount(ds.test_labels, minlength=ds.n_classes))},
            "pixel_min": int(ds.train_images.min()), "pixel_max": int(ds.train_images.max())}
