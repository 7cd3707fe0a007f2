"""Train / validation / test tensors resident on the training device."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import UserError, named
from ..lazy import lazy_module
from .dataset import Dataset
from .transforms import DEFAULT_NORMALIZE, Normalizer

torch = lazy_module("torch")  # splits are made where trials and experiments run; their modules are read by --help


@dataclass
class Splits:
    """Normalized float tensors (N, 1, H, W) and int64 labels, all on one device."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    normalizer: Normalizer
    x_val: torch.Tensor | None = None
    y_val: torch.Tensor | None = None
    info: dict = field(default_factory=dict)
    classes: tuple[str, ...] = tuple(str(d) for d in range(10))

    def to(self, device: torch.device | str) -> Splits:
        move = lambda t: None if t is None else t.to(device)  # noqa: E731
        return Splits(move(self.x_train), move(self.y_train), move(self.x_test), move(self.y_test), self.normalizer,
                      move(self.x_val), move(self.y_val), dict(self.info), self.classes)


def make_splits(ds: Dataset, normalize: str = DEFAULT_NORMALIZE, val: int = 0, train_size: int | None = None,
                device: torch.device | str = "cpu", test_normalize: str | None = None) -> Splits:
    """Carve `val` images off the end of train, keep the first `train_size` of the rest, normalize with train's constants.

    `test_normalize` scales the test set its own way instead (fitted on the test images): L5's deliberate
    train/test mismatch. When given, `info["normalize_test"]` records it.
    """
    n = len(ds.train_labels)
    if val < 0 or val >= n:
        raise UserError(f"{named('val', val)} is out of range: {ds.name} has {n} training images; use 0 to {n - 1}")
    images, labels = ds.train_images[: n - val], ds.train_labels[: n - val]
    if train_size is not None:
        if not 1 <= train_size <= len(labels):
            raise UserError(f"{named('train_size', train_size)} is out of range: {len(labels)} training images are available "
                            f"after {named('val', val)}")
        images, labels = images[:train_size], labels[:train_size]
    norm = Normalizer.fit(normalize, images)
    test_norm = norm if test_normalize in (None, normalize) else Normalizer.fit(test_normalize, ds.test_images)
    y = lambda a: torch.as_tensor(a, dtype=torch.int64, device=device)  # noqa: E731
    splits = Splits(norm(images, device), y(labels), test_norm(ds.test_images, device), y(ds.test_labels), norm,
                    classes=ds.classes)
    if val:
        splits.x_val, splits.y_val = norm(ds.train_images[n - val:], device), y(ds.train_labels[n - val:])
    splits.info = {**ds.describe(), "n_train": len(labels), "n_val": val, "normalize": norm.to_dict()}
    if test_normalize is not None:
        splits.info["normalize_test"] = test_norm.to_dict()
    return splits
