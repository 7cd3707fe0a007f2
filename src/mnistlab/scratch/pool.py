"""Average and max pooling over (n, C, H, W) feature maps, forward and backward.

Pooling windows are just patches of the feature map, so the forward pass reduces
`make_patches` windows. The backward pass hands each window's output gradient back to
the inputs that produced it: evenly for the average, all to the winner for the max.
Windows that overlap (stride < size) add their shares. Like PyTorch's default, only whole
windows are used.
"""
from __future__ import annotations

import numpy as np

from .patches import make_patches


def _windows(x: np.ndarray, size: int, stride: int) -> np.ndarray:
    """(n, C, rows, cols, size*size): every pooling window of every map, flattened."""
    n, C, H, W = x.shape
    w = make_patches(x.reshape(n * C, H, W), size, stride)
    return w.reshape(n, C, *w.shape[1:3], size * size)


def _scatter(window_grads: np.ndarray, x_shape: tuple, size: int, stride: int) -> np.ndarray:
    """Add each window's per-pixel gradients (n, C, rows, cols, size*size) back onto the input's pixels."""
    dx = np.zeros(x_shape, dtype=window_grads.dtype)
    rows, cols = window_grads.shape[2:4]
    for di in range(size):      # a loop over window offsets only: every window and map at once
        for dj in range(size):
            dx[:, :, di:di + stride * rows:stride, dj:dj + stride * cols:stride] += window_grads[..., di * size + dj]
    return dx


def avg_pool(x: np.ndarray, size: int = 2, stride: int = 2) -> np.ndarray:
    return _windows(x, size, stride).mean(axis=-1)


def avg_pool_backward(dy: np.ndarray, x_shape: tuple, size: int = 2, stride: int = 2) -> np.ndarray:
    share = np.repeat(dy[..., None] / (size * size), size * size, axis=-1)
    return _scatter(share, x_shape, size, stride)


def max_pool(x: np.ndarray, size: int = 2, stride: int = 2) -> np.ndarray:
    return _windows(x, size, stride).max(axis=-1)


def max_pool_backward(dy: np.ndarray, x: np.ndarray, size: int = 2, stride: int = 2) -> np.ndarray:
    windows = _windows(x, size, stride)
    winner = windows.argmax(axis=-1)[..., None] == np.arange(size * size)  # first maximum, one per window
    return _scatter(winner * dy[..., None], x.shape, size, stride)
