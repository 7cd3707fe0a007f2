"""Cutting images into patches: the first step of every convolution.

A convolution applies the same small filter to every patch of an image. Cutting
the patches out with two nested loops shows what happens; `as_strided` does the
same with no copy at all: each patch is a *view* that reads the image's own memory.
"""
from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..errors import UserError

MODES = ("crop", "pad")


def as_images(X: np.ndarray) -> np.ndarray:
    """A batch as (n, H, W); flattened square images (n, H*W) are reshaped (a view when possible)."""
    X = np.asarray(X)
    if X.ndim == 3:
        return X
    side = math.isqrt(X.shape[-1]) if X.ndim == 2 else 0
    if X.ndim != 2 or side * side != X.shape[-1]:
        raise UserError(f"images have shape {X.shape}; expected (n, H, W) or flattened square images (n, H*W)")
    return X.reshape(len(X), side, side)


def n_positions(size: int, patch_size: int, stride: int, mode: str = "crop") -> int:
    """Patch positions along one side: `crop` keeps only whole patches, `pad` also the ragged ones at the edge."""
    if mode not in MODES:
        raise UserError(f"patch mode {mode!r} is unknown; use one of {', '.join(MODES)}")
    if patch_size < 1 or stride < 1:
        raise UserError(f"patch size {patch_size} and stride {stride} must both be at least 1")
    if patch_size > size:
        raise UserError(f"a {patch_size}x{patch_size} patch does not fit in a {size}-pixel side; use a smaller patch")
    return (size - patch_size) // stride + 1 if mode == "crop" else math.ceil(size / stride)


def pad_images(X: np.ndarray, patch_size: int, stride: int) -> np.ndarray:
    """Zero-pad the bottom and right so the ragged edge patches become whole (a copy, so no longer views)."""
    X = as_images(X)
    rows, cols = (n_positions(s, patch_size, stride, "pad") for s in X.shape[1:])
    extra = [(n - 1) * stride + patch_size - s for n, s in zip((rows, cols), X.shape[1:])]
    return np.pad(X, ((0, 0), (0, extra[0]), (0, extra[1])))


def _prepare(X: np.ndarray, patch_size: int, stride: int, mode: str) -> tuple[np.ndarray, int, int]:
    X = as_images(X)
    rows, cols = (n_positions(s, patch_size, stride, mode) for s in X.shape[1:])
    return (pad_images(X, patch_size, stride) if mode == "pad" else X), rows, cols


def make_patches_loops(X: np.ndarray, patch_size: int, stride: int, mode: str = "crop") -> np.ndarray:
    """Patches by two nested loops, as L3 first writes it: (n, rows, cols, patch_size, patch_size)."""
    X, rows, cols = _prepare(X, patch_size, stride, mode)
    patches = np.empty((len(X), rows, cols, patch_size, patch_size), dtype=X.dtype)
    for r in range(rows):
        for c in range(cols):
            top, left = r * stride, c * stride
            patches[:, r, c] = X[:, top:top + patch_size, left:left + patch_size]
    return patches


def make_patches(X: np.ndarray, patch_size: int, stride: int, mode: str = "crop") -> np.ndarray:
    """The same patches as `make_patches_loops`, as a read-only view into the images: no loop, no copy.

    Stepping one patch row moves `stride` image rows, one patch column `stride` image columns;
    inside a patch the steps are the image's own. In `crop` mode the view reads the caller's
    array, so writing to the image changes the patches; `pad` mode views a padded copy.
    """
    X, rows, cols = _prepare(X, patch_size, stride, mode)
    n_step, row_step, col_step = X.strides
    return as_strided(X, shape=(len(X), rows, cols, patch_size, patch_size),
                      strides=(n_step, stride * row_step, stride * col_step, row_step, col_step),
                      writeable=False)
