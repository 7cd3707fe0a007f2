"""Handcrafted filters and feature maps: what one conv layer computes, by loop and by one multiply.

A filter's response to a patch is the sum of their elementwise product: large when the
patch looks like the filter. Sliding the filter over every patch gives a feature map;
stacking every patch as a row and every filter as a column turns all of it into one
matrix multiply. Like `torch.nn.functional.conv2d`, this is a cross-correlation (the
filter is not flipped).
"""
from __future__ import annotations

import numpy as np

from .patches import make_patches


def edge_filters(size: int = 7) -> dict[str, np.ndarray]:
    """-1 on one side of an edge, +1 on the other, 0 on it: each responds to one edge direction."""
    i, j = np.indices((size, size))
    centre = (size - 1) / 2
    return {
        "diagonal": np.sign(i - j).astype(float),                  # edge along \, bright below-left
        "antidiagonal": np.sign(i + j - 2 * centre).astype(float),  # edge along /, bright below-right
        "horizontal": np.sign(i - centre).astype(float),           # bright bottom half
        "vertical": np.sign(j - centre).astype(float),             # bright right half
    }


def probe_patches(size: int = 7) -> dict[str, np.ndarray]:
    """L3's test patches for the diagonal filter: blank, all ones, checkerboard, its edge, the reverse, a mix."""
    i, j = np.indices((size, size))
    edge = (i > j).astype(float)
    return {
        "blank": np.zeros((size, size)),
        "ones": np.ones((size, size)),
        "checkerboard": ((i + j) % 2).astype(float),
        "edge": edge,
        "reversed edge": (i < j).astype(float),
        "mixed": np.where(i < size // 2, edge, 1 - edge),  # the edge above the middle row, reversed below
    }


def response(patch: np.ndarray, filt: np.ndarray) -> float:
    """How strongly a patch matches a filter: the sum of their elementwise product."""
    return float(np.sum(patch * filt))


def response_table(filters: dict[str, np.ndarray], patches: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """{patch name: {filter name: response}}, L3's table."""
    return {p: {f: response(patch, filt) for f, filt in filters.items()} for p, patch in patches.items()}


def feature_maps_loops(images: np.ndarray, filters: np.ndarray, stride: int = 1, mode: str = "crop") -> np.ndarray:
    """Every filter's response at every patch, one at a time: (n, F, rows, cols) for filters (F, k, k)."""
    patches = make_patches(images, filters.shape[-1], stride, mode)
    n, rows, cols = patches.shape[:3]
    maps = np.empty((n, len(filters), rows, cols))
    for image in range(n):
        for f, filt in enumerate(filters):
            for r in range(rows):
                for c in range(cols):
                    maps[image, f, r, c] = response(patches[image, r, c], filt)
    return maps


def feature_maps(images: np.ndarray, filters: np.ndarray, stride: int = 1, mode: str = "crop") -> np.ndarray:
    """The same maps as one multiply: patches (n*P, k*k) @ filters (k*k, F), reshaped to (n, F, rows, cols)."""
    k = filters.shape[-1]
    patches = make_patches(images, k, stride, mode)
    n, rows, cols = patches.shape[:3]
    out = patches.reshape(n * rows * cols, k * k) @ filters.reshape(len(filters), k * k).T
    return out.reshape(n, rows, cols, len(filters)).transpose(0, 3, 1, 2)
