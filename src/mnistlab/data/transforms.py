"""Pixel transforms: normalization modes and the lectures' data manipulations.

Images stay uint8 (N, H, W) NumPy arrays until a Normalizer turns them into float
tensors, so every transform here works on the raw pixels the files hold.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..errors import UserError

NORMALIZATIONS = ("unit", "standard", "binary", "raw")
DEFAULT_NORMALIZE = "standard"  # the default recipe's: train mean 0, std 1


@dataclass(frozen=True)
class Normalizer:
    """Pixel scaling, fitted on the training images and reused for every other set.

    unit: [0, 1]; standard: (x/255 - mean) / std of train; binary: pixel > 0; raw: 0..255.
    """

    mode: str = "unit"
    mean: float = 0.0
    std: float = 1.0

    @classmethod
    def fit(cls, mode: str, train_images: np.ndarray) -> Normalizer:
        if mode not in NORMALIZATIONS:
            raise UserError(f"unknown normalization {mode!r}; choose one of: {', '.join(NORMALIZATIONS)}")
        if mode != "standard":
            return cls(mode)
        # From the pixel-value histogram: exact, and no float copy of the whole training set.
        counts = np.bincount(np.asarray(train_images, dtype=np.uint8).ravel(), minlength=256)
        values = np.arange(256) / 255.0
        mean = float((counts * values).sum() / counts.sum())
        std = float(np.sqrt((counts * (values - mean) ** 2).sum() / counts.sum()))
        return cls(mode, mean, std if std > 0 else 1.0)

    def __call__(self, images, device: torch.device | str = "cpu") -> torch.Tensor:
        """Raw pixels (N, H, W) or (N, 1, H, W), uint8 or 0..255 floats → float32 (N, 1, H, W) on `device`."""
        x = images.to(device) if isinstance(images, torch.Tensor) else torch.tensor(np.asarray(images), device=device)
        if x.dim() == 2 and x.shape[1] == 28 * 28:
            x = x.reshape(-1, 28, 28)
        if x.dim() == 3:
            x = x.unsqueeze(1)
        x = x.float()
        if self.mode == "unit":
            return x / 255.0
        if self.mode == "standard":
            return (x / 255.0 - self.mean) / self.std
        if self.mode == "binary":
            return (x > 0).float()
        return x

    def to_dict(self) -> dict:
        return asdict(self)


def scramble(images: np.ndarray, seed: int = 0) -> np.ndarray:
    """Apply one fixed random pixel permutation (the same for every image)."""
    n, h, w = images.shape
    perm = np.random.default_rng(seed).permutation(h * w)
    return images.reshape(n, h * w)[:, perm].reshape(n, h, w)


def roll_horizontal(images: np.ndarray, max_shift: int = 10, seed: int = 0) -> np.ndarray:
    """Roll each image left/right by its own random whole number of pixels in [-max_shift, max_shift], wrapping around."""
    shifts = np.random.default_rng(seed).integers(-max_shift, max_shift + 1, size=len(images))
    cols = (np.arange(images.shape[2])[None, :] - shifts[:, None]) % images.shape[2]
    return images[np.arange(len(images))[:, None, None], np.arange(images.shape[1])[None, :, None], cols[:, None, :]]


def holdout(images: np.ndarray, labels: np.ndarray, digit: int) -> tuple[np.ndarray, np.ndarray]:
    """Drop every image of class `digit`."""
    keep = labels != digit
    return images[keep], labels[keep]
