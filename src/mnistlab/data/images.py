"""User images read safely (formats, sizes and array headers checked before any pixel is decoded), and brought
to MNIST form by the preparation (prepare.to_mnist).
"""
from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin

from ..errors import UserError

FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP")  # PIL decodes only these: never EPS (Ghostscript) or the rest
MAX_SIDE, MAX_PIXELS = 16_384, 50_000_000  # a photo is a few megapixels; refuse decompression bombs from the header
DECODE_SIDE = 640  # a JPEG larger than twice this is decoded at a half, a quarter or an eighth (prepare.WORK)
NPY_KINDS = "biuf"  # bool, integers, floats: no objects, strings, records or complex numbers
PngImagePlugin.MAX_TEXT_CHUNK = PngImagePlugin.MAX_TEXT_MEMORY = 1 << 20  # zTXt/iCCP bombs: 1 MB of text at most


def read_image(path: str | os.PathLike) -> np.ndarray:
    """A grayscale float image in [0, 1] from PNG, JPEG, BMP, GIF, TIFF, WebP or NPY, its size checked first."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    if path.suffix.lower() == ".npy":
        return as_gray(read_npy(path), str(path))
    with open(path, "rb") as f:
        return open_image(f, str(path))


def read_npy(path: Path) -> np.ndarray:
    """An NPY array whose header (shape, type) is checked before its data is read."""
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(f, max_header_size=10_000)
    except Exception as exc:  # NumPy raises ValueError, OSError, SyntaxError or its own for malformed headers
        raise UserError(f"{path}: not a readable NPY array ({exc.__class__.__name__}); save it with numpy.save") from None
    size = math.prod(shape)
    if dtype.kind not in NPY_KINDS or dtype.hasobject or dtype.fields:
        raise UserError(f"{path}: not a numeric image array ({dtype}); save a 2-D array of gray values")
    if size == 0 or size > 4 * MAX_PIXELS:
        raise UserError(f"{path}: NPY shape {shape} is not an image of 1 to {MAX_PIXELS:,} pixels")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise UserError(f"{path}: not a readable NPY array ({str(exc)[:100]})") from None


def open_image(source, where: str, max_side: int = MAX_SIDE, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode an image file or byte stream of an allowed format → grayscale floats in [0, 1]; its size is
    checked from the header, before any pixel is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PIL's DecompressionBombWarning: our own limit below decides
            with Image.open(source, formats=FORMATS) as img:
                if img.width > max_side or img.height > max_side or img.width * img.height > max_pixels:
                    raise UserError(f"{where}: {img.width}x{img.height} is too large; at most {max_side}x{max_side} "
                                    f"and {max_pixels:,} pixels")
                return from_pil(img)
    except UserError:
        raise
    except Exception as exc:  # a damaged file can make any decoder raise anything; none of it is a crash of ours
        raise UserError(f"{where}: not an image mnistlab reads ({exc.__class__.__name__}); "
                        f"give a PNG, JPEG, BMP, GIF, TIFF, WebP or NPY file") from None


def from_pil(img: Image.Image) -> np.ndarray:
    """An opened PIL image (from a file or from bytes) → grayscale floats in [0, 1]: a JPEG decoded at a
    reduced size where it is far larger than the preparation needs, turned upright as its EXIF says (a phone
    stores its photos sideways), each pixel its brightest channel (`ink_gray`)."""
    img.draft(img.mode, (DECODE_SIDE, DECODE_SIDE))  # JPEG only: scaled in the decoder, 4x to 64x less work
    img = ImageOps.exif_transpose(img)
    if img.mode in ("F", "I", "I;16", "I;16B", "I;16L"):  # float or 16/32-bit gray (TIFF): keep the values
        a = np.asarray(img, dtype=np.float64)
        return as_gray(a / 257.0 if img.mode != "F" and a.max() > 255 else a)
    if img.mode in ("RGBA", "LA") or "transparency" in img.info:
        # Transparent strokes on a transparent canvas: composite on white, as a viewer shows it.
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img.convert("RGBA"))
    if img.mode in ("L", "1"):
        return np.asarray(img.convert("L"), dtype=np.float64) / 255.0
    return ink_gray(np.asarray(img.convert("RGB"))) / 255.0


def ink_gray(rgb: np.ndarray) -> np.ndarray:
    """Colour (H, W, 3) → gray (H, W) as its brightest channel: pens (black, blue ballpoint, pencil) are dark in
    every channel, while the blue, red or green rules printed on paper are bright in one, so they fade to
    near-white here while the pen stays dark (averaging the channels would keep a blue rule half as dark as the
    pen)."""
    return rgb[..., :3].max(axis=2).astype(np.float64)


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
        a = ink_gray(a)
    if a.ndim != 2 or min(a.shape) < 2 or a.size > MAX_PIXELS:
        raise UserError(f"{where}: expected a 2-D grayscale or RGB image of at most {MAX_PIXELS:,} pixels, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise UserError(f"{where}: the image holds NaN or infinite values")
    return a / 255.0 if a.max() > 1.0 else a


def load_for_model(paths: list[str | os.PathLike], judge: Callable | None = None) -> np.ndarray:
    """Read and bring every file to MNIST form: uint8 (N, 28, 28); a 28x28 file with several readings, the one
    `judge` (a run's `confidence`) reads most surely (prepare.to_mnist)."""
    # the preparation needs scipy: loaded when a user's file is prepared, not when images are only read
    from .prepare import to_mnist

    return np.stack([to_mnist(read_image(p), str(p), judge) for p in paths]) if paths else np.zeros((0, 28, 28), np.uint8)


def digits_in_files(paths: list[str | os.PathLike], judge: Callable | None = None) -> list[list]:
    """Every digit of every file, left to right (prepare.find_digits, touching digits cut where `judge`, a run's
    `confidence`, reads the parts most surely): a list of prepare.Digit per file."""
    # the preparation needs scipy: loaded when a user's file is prepared, not when images are only read
    from .prepare import find_digits

    return [find_digits(read_image(p), str(p), judge) for p in paths]


def as_text(digits: list, labels: list[str]) -> str:
    """Digits found (prepare.Digit) read as one reads them: each line of writing left to right, the lines apart
    by a space."""
    return "".join((" " if k and d.line != digits[k - 1].line else "") + label
                   for k, (d, label) in enumerate(zip(digits, labels)))
