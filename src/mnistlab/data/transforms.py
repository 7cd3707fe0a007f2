"""Pixel transforms: normalization modes and the lectures' data manipulations.

Images stay uint8 (N, H, W) NumPy arrays until a Normalizer turns them into float
tensors, so every transform here works on the raw pixels the files hold.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import UserError
from ..lazy import lazy_module

torch = lazy_module("torch")  # NORMALIZATIONS is read by --help; torch loads when a Normalizer runs

NORMALIZATIONS = ("unit", "standard", "binary", "raw")
DEFAULT_NORMALIZE = "standard"  # the default recipe's: train mean 0, std 1


@dataclass(frozen=True)
class Normalizer:
    """Pixel scaling, fitted on the training images and reused for every other set.

    unit: [0, 1]; standard: (x/255 - mean) / std of train; binary: pixel > 0; raw: 0..255. Gray images
    have one mean and std; colour images one per channel (tuples), so no channel drowns the others.
    """

    mode: str = "unit"
    mean: float | tuple[float, ...] = 0.0
    std: float | tuple[float, ...] = 1.0

    def __post_init__(self) -> None:  # run.json stores per-channel constants as lists
        for name in ("mean", "std"):
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(float(v) for v in getattr(self, name)))

    @classmethod
    def fit(cls, mode: str, train_images: np.ndarray) -> Normalizer:
        """`train_images`: uint8 (N, H, W) gray, or (N, C, H, W) colour (one mean and std per channel)."""
        if mode not in NORMALIZATIONS:
            raise UserError(f"unknown normalization {mode!r}; choose one of: {', '.join(NORMALIZATIONS)}")
        if mode != "standard":
            return cls(mode)
        images = np.asarray(train_images, dtype=np.uint8)
        if images.ndim == 4:
            stats = [_moments(images[:, c]) for c in range(images.shape[1])]
            return cls(mode, tuple(m for m, _ in stats), tuple(s for _, s in stats))
        return cls(mode, *_moments(images))

    def __call__(self, images, device: torch.device | str = "cpu") -> torch.Tensor:
        """Raw pixels (N, H, W), (N, C, H, W) or (N, 784), uint8 or 0..255 floats → float32 (N, C, H, W) on `device`."""
        x = images.to(device) if isinstance(images, torch.Tensor) else torch.tensor(np.asarray(images), device=device)
        if x.dim() == 2 and x.shape[1] == 28 * 28:
            x = x.reshape(-1, 28, 28)
        if x.dim() == 3:
            x = x.unsqueeze(1)
        x = x.float()
        if self.mode == "unit":
            return x / 255.0
        if self.mode == "standard":
            if isinstance(self.mean, tuple):  # channel by channel: plain numbers, which export traces as constants
                return torch.cat([(x[:, c: c + 1] / 255.0 - m) / s for c, (m, s) in enumerate(zip(self.mean, self.std))], 1)
            return (x / 255.0 - self.mean) / self.std
        if self.mode == "binary":
            return (x > 0).float()
        return x

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def _moments(images: np.ndarray) -> tuple[float, float]:
    """Mean and std of uint8 pixels in [0, 1], from their histogram: exact, and no float copy of the whole set."""
    counts = np.bincount(images.ravel(), minlength=256)
    values = np.arange(256) / 255.0
    mean = float((counts * values).sum() / counts.sum())
    std = float(np.sqrt((counts * (values - mean) ** 2).sum() / counts.sum()))
    return mean, std if std > 0 else 1.0


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
