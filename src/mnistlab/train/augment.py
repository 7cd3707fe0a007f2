"""Train-time augmentation on whole batches on the device: random affine warps of the digits."""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..data.transforms import Normalizer

AUGMENTATIONS = ("none", "affine")


def random_affine(x: torch.Tensor, generator: torch.Generator | None, background: float | torch.Tensor, degrees: float = 10.0,
                  shift: float = 0.1, scale: tuple[float, float] = (0.9, 1.1)) -> torch.Tensor:
    """Rotate by up to ±`degrees`, scale within `scale`, shift by up to `shift` of the width, per image.

    The random numbers come from `generator` (a CPU generator), or with None from the default generator of x's
    device.

    Pixels moved in from outside the image take the background value (0 before normalization).
    """
    n = len(x)
    u = torch.rand(n, 4, generator=generator, device=None if generator is not None else x.device).to(x.device)
    angle = (2 * u[:, 0] - 1) * math.radians(degrees)
    zoom = scale[0] + u[:, 1] * (scale[1] - scale[0])
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    tx, ty = (2 * u[:, 2] - 1) * 2 * shift, (2 * u[:, 3] - 1) * 2 * shift  # grid coordinates span 2 per width
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1).to(x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    warped = F.grid_sample(x - background, grid, align_corners=False, padding_mode="zeros")
    return warped + background


def make_augment(name: str, normalizer: Normalizer, device: torch.device,
                 seed: int) -> Callable[[torch.Tensor], torch.Tensor] | None:
    if name == "none":
        return None
    channels = len(normalizer.mean) if isinstance(normalizer.mean, tuple) else 1
    black = normalizer(np.zeros((1, channels, 1, 1), dtype=np.uint8), device)  # per channel for colour
    background = float(black.item()) if channels == 1 else black
    # On the CPU a generator of its own (seed + 1); on CUDA the device's default generator (seeded by `fit`),
    # the one a captured step replays with fresh numbers every time: drawing on the host could not be captured.
    generator = torch.Generator().manual_seed(seed + 1) if device.type == "cpu" else None
    return lambda x: random_affine(x, generator, background)
