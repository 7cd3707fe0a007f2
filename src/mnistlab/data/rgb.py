"""Images as they are, colour kept: for image-folder data sets and for `predict` on runs that are not 28x28 gray
digits (those get MNIST's digit preparation in images.py instead)."""
from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import UserError
from .images import FORMATS, MAX_PIXELS, MAX_SIDE, load_for_model, read_npy

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def decode(source, where: str, size: tuple[int, int] | None = None) -> np.ndarray:
    """An image file or byte stream → uint8 (H, W, 3), resized to `size` (H, W) when given; its dimensions are
    checked from the header before any pixel is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PIL's DecompressionBombWarning: our own limit decides
            with Image.open(source, formats=FORMATS) as img:
                if img.width > MAX_SIDE or img.height > MAX_SIDE or img.width * img.height > MAX_PIXELS:
                    raise UserError(f"{where}: {img.width}x{img.height} is too large; at most {MAX_SIDE}x{MAX_SIDE} "
                                    f"and {MAX_PIXELS:,} pixels")
                rgb = img.convert("RGB")
                if size is not None and rgb.size != (size[1], size[0]):
                    rgb = rgb.resize((size[1], size[0]), Image.BILINEAR)
                return np.asarray(rgb, dtype=np.uint8)
    except UserError:
        raise
    except MemoryError:
        raise UserError(f"{where}: out of memory while decoding it; free memory or give fewer or smaller images") from None
    except Exception as exc:  # a damaged file can make any decoder raise anything
        raise UserError(f"{where}: not an image mnistlab reads ({exc.__class__.__name__}); "
                        f"give a PNG, JPEG, BMP, GIF, TIFF, WebP or NPY file") from None


def header_size(path: Path) -> tuple[int, int] | None:
    """(H, W) from an image file's header, no pixel decoded; None where PIL cannot open it (`decode` says why)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PIL's DecompressionBombWarning: our own limits decide
            with Image.open(path, formats=FORMATS) as img:
                return img.height, img.width
    except Exception:  # a damaged file can make any decoder raise anything; decode() reports it in one line
        return None


def is_gray(image: np.ndarray) -> bool:
    """(H, W, 3) with equal channels everywhere."""
    return bool((image[..., 0] == image[..., 1]).all() and (image[..., 1] == image[..., 2]).all())


def read_for_shape(path: str | os.PathLike, shape: tuple[int, int, int]) -> np.ndarray:
    """An image file → uint8 (C, H, W) for a model that takes `shape`: resized, gray (mean of R, G, B) or colour."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    channels, height, width = shape
    if path.suffix.lower() == ".npy":
        a = np.asarray(read_npy(path), dtype=np.float64)
        a = a * 255.0 if a.size and a.max() <= 1.0 else a
        if a.ndim == 3 and a.shape[0] in (1, 3) and a.shape[2] not in (1, 3):
            a = a.transpose(1, 2, 0)  # (C, H, W) → (H, W, C)
        a = np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else np.repeat(a, 3, axis=2) if a.shape[2] == 1 else a[..., :3]
        image = np.asarray(Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).resize((width, height), Image.BILINEAR))
    else:
        with open(path, "rb") as f:
            image = decode(f, str(path), (height, width))
    if channels == 1:
        return np.round(image.mean(axis=2)).astype(np.uint8)[None]
    return image.transpose(2, 0, 1).copy()


def load_for_shape(paths: list[str | os.PathLike], shape: tuple[int, int, int]) -> np.ndarray:
    """Every file as the model takes it: uint8 (N, C, H, W)."""
    return np.stack([read_for_shape(p, shape) for p in paths]) if paths else np.zeros((0, *shape), np.uint8)


def is_digit_input(shape: tuple[int, int, int], classes: tuple[str, ...]) -> bool:
    """A 1-channel 28x28 model of the ten digits: its inputs get MNIST's digit preparation (prepare.to_mnist)."""
    return tuple(shape) == (1, 28, 28) and tuple(classes) == tuple(str(d) for d in range(10))


def images_for(paths: list[str | os.PathLike], shape: tuple[int, int, int], classes: tuple[str, ...],
               judge: Callable | None = None) -> np.ndarray:
    """Image files as a model of input `shape` and these `classes` takes them: digits brought to MNIST form (with
    `judge`, a run's `confidence`, choosing among a 28x28 file's readings), any other run's images resized
    to its input, colour kept for a colour run."""
    return load_for_model(paths, judge) if is_digit_input(shape, classes) else load_for_shape(paths, shape)
