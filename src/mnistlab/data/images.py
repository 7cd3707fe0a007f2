"""User images to MNIST form: what the model saw in training is what it sees here.

MNIST digits are white on black, their bounding box scaled to fit 20x20 (aspect
kept) and placed in a 28x28 frame with its centre of mass at pixel (14, 14), where MNIST has it.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import UserError


def read_image(path: str | os.PathLike) -> np.ndarray:
    """A grayscale float image in [0, 1] from PNG/JPEG (anything PIL reads) or NPY."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    if path.suffix.lower() == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise UserError(f"{path}: not a readable NPY array ({exc})") from None
        return as_gray(array, str(path))
    try:
        with Image.open(path) as img:
            return from_pil(img)
    except (UnidentifiedImageError, OSError) as exc:
        raise UserError(f"{path}: not an image PIL can read ({exc.__class__.__name__}); give a PNG, JPEG or NPY file") from None


def from_pil(img: Image.Image) -> np.ndarray:
    """An opened PIL image (from a file or from bytes) → grayscale floats in [0, 1]."""
    img.load()
    if img.mode in ("RGBA", "LA") or "transparency" in img.info:
        # Transparent strokes on a transparent canvas: composite on white, as a viewer shows it.
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img.convert("RGBA"))
    return np.asarray(img.convert("L"), dtype=np.float64) / 255.0


def as_gray(array, where: str = "array") -> np.ndarray:
    """(H, W), (H, W, 3|4) or a flat square array of 0..1 or 0..255 values → (H, W) floats in [0, 1]."""
    try:
        a = np.asarray(array, dtype=np.float64)
    except (TypeError, ValueError):
        raise UserError(f"{where}: not a numeric image array") from None
    a = a.squeeze() if a.ndim > 2 and 1 in a.shape else a
    if a.ndim == 1 and a.size and int(np.sqrt(a.size)) ** 2 == a.size:
        side = int(np.sqrt(a.size))
        a = a.reshape(side, side)
    if a.ndim == 3 and a.shape[2] in (3, 4):
        a = a[..., :3].mean(axis=2)
    if a.ndim != 2 or min(a.shape) < 2:
        raise UserError(f"{where}: expected a 2-D grayscale or RGB image, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise UserError(f"{where}: the image holds NaN or infinite values")
    return a / 255.0 if a.max() > 1.0 else a


def to_mnist(image: np.ndarray, where: str = "image") -> np.ndarray:
    """Any grayscale image in [0, 1] → uint8 (28, 28), white digit on black, centred by mass."""
    a = np.asarray(image, dtype=np.float64)
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
    background = float(np.median(border))
    ink = (1.0 - a) if background > 0.5 else a.copy()
    ink = np.clip(ink - min(background, 1.0 - background), 0.0, None)
    if ink.max() < 0.1:
        raise UserError(f"{where}: no digit found (the image is blank or has no contrast)")
    ink /= ink.max()
    rows, cols = np.nonzero(ink > 0.1)
    box = ink[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1]
    h, w = box.shape
    scale = 20.0 / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    digit = np.asarray(Image.fromarray((box * 255).astype(np.uint8)).resize(size, Image.LANCZOS), dtype=np.float64)
    digit = np.clip(digit, 0, 255)
    frame = np.zeros((28, 28))
    mass = digit.sum()
    cy = (digit.sum(1) * np.arange(digit.shape[0])).sum() / mass
    cx = (digit.sum(0) * np.arange(digit.shape[1])).sum() / mass
    top = int(np.clip(round(14.0 - cy), 0, 28 - digit.shape[0]))
    left = int(np.clip(round(14.0 - cx), 0, 28 - digit.shape[1]))
    frame[top: top + digit.shape[0], left: left + digit.shape[1]] = digit
    return np.round(frame).astype(np.uint8)


def load_for_model(paths: list[str | os.PathLike]) -> np.ndarray:
    """Read and bring every file to MNIST form: uint8 (N, 28, 28)."""
    return np.stack([to_mnist(read_image(p), str(p)) for p in paths]) if paths else np.zeros((0, 28, 28), np.uint8)
