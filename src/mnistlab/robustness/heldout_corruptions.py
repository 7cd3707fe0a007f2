"""A second corrupted-MNIST suite, written apart from corruptions.py so that it can judge what was tuned on that one.

Fifteen corruptions in the spirit of MNIST-C (Mu & Gilmer 2019; the code and the parameters here are ours and
differ from theirs), one severity each, on a 28x28 digit as floats in [0, 1], ink high, with NumPy, SciPy and
PIL only: nothing from corruptions.py or data/strokes.py, so a shared bug or a shared blind spot cannot hide.
Also the gap check: a digit cut by a 2-pixel gap through its centre of mass, at a random angle.
"""
from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from ..registry import add

HELDOUT_CORRUPTIONS: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {}  # filled below


def heldout_corruption(fn: Callable[[np.ndarray, np.random.Generator], np.ndarray]) -> Callable:
    """Register a corruption under its function's name."""
    return add(HELDOUT_CORRUPTIONS, fn.__name__, fn, "held-out corruption")


@heldout_corruption
def shot_noise(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return rng.poisson(x * 35) / 35


@heldout_corruption
def impulse_noise(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    flip = rng.random(x.shape)
    return np.where(flip < 0.05, 0.0, np.where(flip > 0.95, 1.0, x))


@heldout_corruption
def glass_blur(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    y = ndimage.gaussian_filter(x, 0.7)
    for _ in range(2):  # each pixel swapped with a neighbour up to a pixel away
        rows, cols = np.mgrid[:28, :28]
        dy, dx = rng.integers(-1, 2, (2, 28, 28))
        y = y[np.clip(rows + dy, 0, 27), np.clip(cols + dx, 0, 27)]
    return ndimage.gaussian_filter(y, 0.5)


@heldout_corruption
def motion_blur(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    length, angle = 7, rng.uniform(0, np.pi)
    kernel = Image.new("F", (length, length), 0.0)
    c, r = (length - 1) / 2, (length - 1) / 2
    ImageDraw.Draw(kernel).line((c - r * np.cos(angle), c - r * np.sin(angle), c + r * np.cos(angle), c + r * np.sin(angle)),
                                fill=1.0, width=1)
    k = np.asarray(kernel)
    return ndimage.convolve(x, k / k.sum(), mode="constant")


def affine(x: np.ndarray, matrix: np.ndarray, shift=(0.0, 0.0)) -> np.ndarray:
    """`x` mapped by `matrix` about its centre, then moved by `shift` pixels (rows, columns)."""
    centre = np.array([13.5, 13.5])
    inverse = np.linalg.inv(matrix)
    return ndimage.affine_transform(x, inverse, offset=centre - inverse @ (centre + np.asarray(shift)), order=1)


@heldout_corruption
def shear(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    s = rng.choice([-1, 1]) * rng.uniform(0.35, 0.55)
    return affine(x, np.array([[1.0, 0.0], [s, 1.0]]) if rng.random() < 0.5 else np.array([[1.0, s], [0.0, 1.0]]))


@heldout_corruption
def scale(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return affine(x, np.eye(2) * rng.uniform(0.55, 0.7))


@heldout_corruption
def rotate(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    a = np.deg2rad(rng.choice([-1, 1]) * rng.uniform(25, 40))
    return affine(x, np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]))


@heldout_corruption
def brightness(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.clip(0.45 + 0.55 * x, 0, 1)


@heldout_corruption
def translate(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    a = rng.uniform(0, 2 * np.pi)
    return affine(x, np.eye(2), (4.5 * np.sin(a), 4.5 * np.cos(a)))


@heldout_corruption
def stripe(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    y = x.copy()
    c = int(rng.integers(8, 18))
    y[:, c: c + 3] = 1 - y[:, c: c + 3]  # a band of three columns inverted
    return y


@heldout_corruption
def fog(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    haze = ndimage.zoom(rng.random((4, 4)), 7, order=3)[:28, :28]
    return np.clip(x + 0.45 * (haze - haze.min()) / (np.ptp(haze) + 1e-9), 0, 1)


def draw(x: np.ndarray, shapes: Callable[[ImageDraw.ImageDraw], None]) -> np.ndarray:
    """`x` with white shapes drawn over it at 4x resolution, then brought back to 28x28."""
    canvas = Image.new("L", (112, 112), 0)
    shapes(ImageDraw.Draw(canvas))
    marks = np.asarray(canvas.resize((28, 28), Image.BOX), np.float64) / 255
    return np.maximum(x, marks)


@heldout_corruption
def spatter(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    def blots(pen):
        for _ in range(int(rng.integers(4, 9))):
            cx, cy, r = rng.uniform(0, 112), rng.uniform(0, 112), rng.uniform(2, 6)
            pen.ellipse((cx - r, cy - r, cx + r, cy + r), fill=255)
    return draw(x, blots)


@heldout_corruption
def dotted_line(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    (x0, y0), (x1, y1) = rng.uniform(0, 112, (2, 2))
    n = int(np.hypot(x1 - x0, y1 - y0) / 12) + 1

    def dots(pen):
        for t in np.linspace(0, 1, n):
            cx, cy = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
            pen.ellipse((cx - 3, cy - 3, cx + 3, cy + 3), fill=255)
    return draw(x, dots)


@heldout_corruption
def zigzag(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    start, k = rng.uniform(10, 100), int(rng.integers(3, 6))
    points = [(i * 112 / k, start + (20 if i % 2 else -20) * rng.uniform(0.6, 1)) for i in range(k + 1)]
    return draw(x, lambda pen: pen.line(points, fill=255, width=7))


@heldout_corruption
def canny_edges(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    smooth = ndimage.gaussian_filter(x, 1.0)
    magnitude = np.hypot(ndimage.sobel(smooth, 0), ndimage.sobel(smooth, 1))
    ridge = magnitude >= ndimage.maximum_filter(magnitude, size=3) * 0.75  # thin: near the local maximum only
    return (ridge & (magnitude > 0.25 * magnitude.max())).astype(np.float64)


def corrupt_heldout(images: np.ndarray, name: str, seed: int = 0) -> np.ndarray:
    """uint8 (N, 28, 28) digits, ink high → the same corrupted by `name`; the same images for the same seed."""
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    fn = HELDOUT_CORRUPTIONS[name]
    out = [np.clip(fn(image / 255.0, rng), 0, 1) for image in images]
    return np.round(np.stack(out) * 255).astype(np.uint8)


def gap_cut(images: np.ndarray, width: float = 2.0, seed: int = 0) -> np.ndarray:
    """Each digit cut by a straight gap `width` pixels wide through its centre of mass, at a random angle."""
    rng = np.random.default_rng([seed, zlib.crc32(b"gap")])
    rows, cols = np.mgrid[:28, :28]
    out = images.copy()
    for image in out:
        cy, cx = ndimage.center_of_mass(image.astype(np.float64))
        a = rng.uniform(0, np.pi)
        image[np.abs((rows - cy) * np.cos(a) - (cols - cx) * np.sin(a)) < width / 2] = 0
    return out
