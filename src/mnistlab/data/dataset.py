"""A data set in memory, whatever it was read from: the type every reader returns and every trainer takes."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import UserError

DIGITS = tuple(str(d) for d in range(10))


@dataclass
class Dataset:
    """A data set in memory: uint8 images (N, H, W) for gray or (N, C, H, W) for colour, int64 labels, and where
    it came from. `read` says how --data PATH was read (format and options), `split` how a test set was held
    out of it: both go into every run's record, so the run's data can be read again exactly."""

    name: str
    source: str  # data-dir | env | cache | download | package
    path: str
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    classes: tuple[str, ...] = DIGITS
    notice: str | None = field(default=None, compare=False)
    read: dict | None = field(default=None, compare=False)
    split: dict | None = field(default=None, compare=False)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of one image: what the model takes."""
        dims = self.train_images.shape[1:]
        return (1, *dims) if len(dims) == 2 else tuple(dims)

    def as_classes(self, classes: tuple[str, ...], whose: str) -> Dataset:
        """This data set with its labels as indices into `classes` (a run's), matched by class name: a set of some
        of those classes (a digits folder of 3s and 7s) is read as those classes; a class `whose` model does not
        know is refused (its labels would index past the model's outputs)."""
        classes = tuple(classes)
        if self.classes == classes:
            return self
        unknown = [c for c in self.classes if c not in classes]
        if unknown:
            raise UserError(f"{self.path or self.name}: class {unknown[0]!r} is not one of the {len(classes)} classes "
                            f"{whose} knows ({', '.join(classes[:12])}{', ...' if len(classes) > 12 else ''}); give data "
                            f"of its classes")
        index = np.array([classes.index(c) for c in self.classes], dtype=np.int64)
        return replace(self, train_labels=index[self.train_labels], test_labels=index[self.test_labels], classes=classes)

    def describe(self) -> dict:
        """The provenance every result records."""
        extra = {k: v for k, v in (("read", self.read), ("split", self.split)) if v is not None}
        return {"name": self.name, "source": self.source, "path": self.path, "shape": list(self.shape),
                "n_train": int(len(self.train_labels)), "n_test": int(len(self.test_labels)), **extra}
