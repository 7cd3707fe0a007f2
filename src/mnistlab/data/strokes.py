"""Batch image operations on the device: warps, per-image blur kernels, stroke width, marks drawn as distance
fields, coarse fields, resampling.

Shared by the robust recipe's augmentation (train/augment.py), which draws its random numbers on the device so
a captured step replays them fresh, and by the corruption suite (robustness.py), which draws them from seeded
generators. Every function takes images (N, 1, H, W) with ink high and background 0, keeps every shape fixed
and never reads a value back to the host: the same operations run on every call.
"""
from __future__ import annotations

import math

from ..lazy import lazy_module

torch = lazy_module("torch")  # the strokes run inside augmentations and corruptions, whose registries --help reads
F = lazy_module("torch.nn.functional")


def pixel_grid(h: int, w: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Row and column coordinates of pixel centres, each (1, 1, h, w)."""
    ys = torch.arange(h, device=device, dtype=torch.float32).view(1, 1, h, 1).expand(1, 1, h, w)
    xs = torch.arange(w, device=device, dtype=torch.float32).view(1, 1, 1, w).expand(1, 1, h, w)
    return ys, xs


def warp(x: torch.Tensor, theta: torch.Tensor, flow: torch.Tensor | None = None) -> torch.Tensor:
    """Sample x through per-image affine maps `theta` (N, 2, 3, grid units: the image spans -1..1) plus an optional
    displacement field `flow` (N, H, W, 2, grid units); pixels from outside are background (0)."""
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    if flow is not None:
        grid = grid + flow.to(x.dtype)
    return F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")


def affine_theta(angle: torch.Tensor, shear: torch.Tensor, zoom: torch.Tensor, tx: torch.Tensor,
                 ty: torch.Tensor) -> torch.Tensor:
    """(N, 2, 3) maps from output to input: rotate by `angle` (radians), shear horizontally by `shear`, scale the
    digit by `zoom` (>1 enlarges), shift by (tx, ty) in grid units."""
    cos, sin = torch.cos(angle), torch.sin(angle)
    a, b = cos / zoom, (-sin + shear * cos) / zoom
    c, d = sin / zoom, (cos + shear * sin) / zoom
    return torch.stack([torch.stack([a, b, -tx], 1), torch.stack([c, d, -ty], 1)], 1)


def coarse_field(noise: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """A smooth field (N, C, h, w) from coarse random values (N, C, gh, gw), bicubically upsampled. Upsampling is
    linear, so it is one matrix product with the upsampled unit impulses: on the CPU 5x faster than interpolating
    every image."""
    n, c, gh, gw = noise.shape
    impulses = torch.eye(gh * gw, device=noise.device, dtype=noise.dtype).view(gh * gw, 1, gh, gw)
    basis = F.interpolate(impulses, size=(h, w), mode="bicubic", align_corners=True).view(gh * gw, h * w)
    return (noise.reshape(n * c, gh * gw) @ basis).view(n, c, h, w)


def filter_each(x: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """Convolve image i with kernel i (N, 1, k, k), all in one grouped convolution."""
    n, _, h, w = x.shape
    k = kernels.shape[-1]
    out = F.conv2d(x.reshape(1, n, h, w), kernels.to(x.dtype), padding=k // 2, groups=n)
    return out.reshape(n, 1, h, w)


def blur_kernels(sigma: torch.Tensor, length: torch.Tensor, angle: torch.Tensor, size: int = 7) -> torch.Tensor:
    """Per-image kernels (N, 1, size, size): a Gaussian of std `sigma` (pixels) stretched along a line of
    `length` pixels at `angle` (motion blur); length 0 is a round Gaussian. Each sums to 1."""
    ys, xs = pixel_grid(size, size, sigma.device)
    ys, xs = ys - size // 2, xs - size // 2
    dx, dy = torch.cos(angle).view(-1, 1, 1, 1), torch.sin(angle).view(-1, 1, 1, 1)
    half = (length / 2).view(-1, 1, 1, 1)
    t = torch.maximum(torch.minimum(xs * dx + ys * dy, half), -half)  # the nearest point of the motion line
    d2 = (xs - t * dx) ** 2 + (ys - t * dy) ** 2
    s = sigma.clamp_min(0.3).view(-1, 1, 1, 1)
    k = torch.exp(-d2 / (2 * s * s))
    return k / k.sum(dim=(2, 3), keepdim=True)


def _max_shifted(x: torch.Tensor, size: int, dim: int) -> torch.Tensor:
    """The maximum over `size` neighbours along dim (-1 or -2), the missing ones beyond the edge counting as 0."""
    lo, hi, n = (size - 1) // 2, size - 1 - (size - 1) // 2, x.shape[dim]
    padded = F.pad(x, (lo, hi, 0, 0) if dim == -1 else (0, 0, lo, hi))
    out = padded.narrow(dim, 0, n)
    for i in range(1, size):
        out = torch.maximum(out, padded.narrow(dim, i, n))
    return out


def dilate(x: torch.Tensor, size: int = 3) -> torch.Tensor:
    """Grayscale dilation: each pixel the brightest of its size x size neighbourhood (strokes thicken); a row
    pass and a column pass of shifted maxima (on the CPU 10x faster than max_pool2d for small images)."""
    return _max_shifted(_max_shifted(x, size, -1), size, -2)


def erode(x: torch.Tensor, size: int = 3) -> torch.Tensor:
    """Grayscale erosion: each pixel the darkest of its neighbourhood (strokes thin)."""
    return -dilate(-x, size)


def resample(x: torch.Tensor, side: int) -> torch.Tensor:
    """Down to side x side by area averaging and back up bilinearly: a low-resolution scan."""
    h, w = x.shape[-2:]
    small = F.adaptive_avg_pool2d(x, (side, side))
    return F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)


def grille(angle: torch.Tensor, period: torch.Tensor | float, phase: torch.Tensor, gap: float, h: int, w: int) -> torch.Tensor:
    """A 0/1 mask (N, 1, h, w) that keeps the image but for gaps `gap` pixels wide every `period` pixels, across
    the direction `angle` (radians), shifted by `phase` periods; angle and phase (N, 1, 1, 1), period too or a
    number. The remainder, not torch.frac, so that negative coordinates are striped too, not erased."""
    ys, xs = pixel_grid(h, w, angle.device)
    t = (xs * torch.cos(angle) + ys * torch.sin(angle)) / period + phase
    return (torch.remainder(t, 1.0) >= gap / period).float()


def segments(p0: torch.Tensor, p1: torch.Tensor, width: torch.Tensor, h: int, w: int,
             dash: torch.Tensor | None = None) -> torch.Tensor:
    """Ink (N, 1, h, w) of K straight strokes per image from p0 to p1 ((N, K, 2) as (row, col) pixels), `width`
    pixels wide ((N, K)), antialiased; `dash` ((N, K), pixels) cuts each into dots of that period."""
    ys, xs = pixel_grid(h, w, p0.device)
    y0, x0 = p0[..., 0, None, None], p0[..., 1, None, None]  # (N, K, 1, 1)
    vy, vx = p1[..., 0, None, None] - y0, p1[..., 1, None, None] - x0
    length2 = (vy * vy + vx * vx).clamp_min(1e-6)
    t = (((ys - y0) * vy + (xs - x0) * vx) / length2).clamp(0, 1)  # (N, K, h, w)
    dist = torch.sqrt((ys - y0 - t * vy) ** 2 + (xs - x0 - t * vx) ** 2)
    ink = (width[..., None, None] / 2 + 0.5 - dist).clamp(0, 1)
    if dash is not None:
        along = t * torch.sqrt(length2)
        ink = ink * (torch.cos(2 * math.pi * along / dash[..., None, None].clamp_min(1.0)) > 0).to(ink.dtype)
    return ink.amax(1, keepdim=True)


def discs(centres: torch.Tensor, radius: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Ink (N, 1, h, w) of K filled discs per image: centres (N, K, 2) as (row, col), radius (N, K) pixels."""
    ys, xs = pixel_grid(h, w, centres.device)
    dist = torch.sqrt((ys - centres[..., 0, None, None]) ** 2 + (xs - centres[..., 1, None, None]) ** 2)
    return (radius[..., None, None] + 0.5 - dist).clamp(0, 1).amax(1, keepdim=True)


def boxes(top_left: torch.Tensor, size: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """A 0/1 mask (N, 1, h, w) of one axis-aligned box per image: top_left and size (N, 2) in pixels."""
    ys, xs = pixel_grid(h, w, top_left.device)
    y0, x0 = top_left[:, 0].view(-1, 1, 1, 1), top_left[:, 1].view(-1, 1, 1, 1)
    sy, sx = size[:, 0].view(-1, 1, 1, 1), size[:, 1].view(-1, 1, 1, 1)
    return ((ys >= y0) & (ys < y0 + sy) & (xs >= x0) & (xs < x0 + sx)).float()
