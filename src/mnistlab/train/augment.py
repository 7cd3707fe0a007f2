"""Train-time augmentation on whole batches on the device: random affine warps of the digits, and the robust
recipe's list (elastic warps, stroke width, blur, noise, stray lines and erasing, contrast and paper, low
resolution) drawn inside the step.

Every operation runs on the whole batch with fixed shapes and draws its random numbers on the device (on CUDA
the default generator, which a captured step replays with fresh numbers; on the CPU a seeded generator of its
own): no value is read back to the host, and the same operations run at every step, so the step stays
graph-safe (train/graphcheck.py). Each image gets an operation with a probability; a strength scales it.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..data import strokes
from ..data.transforms import Normalizer
from ..errors import UserError

AUGMENTATIONS = ("none", "affine")  # the single-word forms; a list such as "elastic,blur=0.5" names ROBUST's items


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


class Draw:
    """Uniform random numbers on the batch's device: from a CPU generator (then moved), or on CUDA from the
    device's default generator (generator None), which a captured graph advances at every replay."""

    def __init__(self, generator: torch.Generator | None):
        self.generator = generator

    def __call__(self, x: torch.Tensor, *shape: int) -> torch.Tensor:
        g = self.generator
        return torch.rand(len(x), *shape, generator=g, device=None if g is not None else x.device).to(x.device)

    def chosen(self, x: torch.Tensor, p: float) -> torch.Tensor:
        """A (N, 1, 1, 1) 0/1 mask: which images get an operation applied with probability p."""
        return (self(x) < p).to(x.dtype).view(-1, 1, 1, 1)


def elastic(u: torch.Tensor, draw: Draw, s: float) -> torch.Tensor:
    """One warp: rotation ±15°·s, shear ±0.3·s, zoom 1 - 0.35·s .. 1 + 0.1·s, shift ±2.5·s px, and a smooth random
    displacement field of about s pixels (elastic distortion)."""
    n, h = len(u), u.shape[-1]
    r = draw(u, 5)
    theta = strokes.affine_theta((2 * r[:, 0] - 1) * math.radians(15 * s), (2 * r[:, 1] - 1) * 0.3 * s,
                                 1 - 0.35 * s + r[:, 2] * 0.45 * s, (2 * r[:, 3] - 1) * 5 * s / h, (2 * r[:, 4] - 1) * 5 * s / h)
    flow = strokes.coarse_field(2 * draw(u, 2, 4, 4) - 1, h, h).permute(0, 2, 3, 1) * (2 * s / h)
    return strokes.warp(u, theta, flow.reshape(n, h, h, 2))


def stroke_width(u: torch.Tensor, draw: Draw, s: float) -> torch.Tensor:
    """Thicker strokes (dilation) for a quarter of the images, thinner (erosion) for a fifth, hollow (outline)
    for a twentieth, blended in at half to full strength times s."""
    r, w = draw(u).view(-1, 1, 1, 1), (0.5 + 0.5 * draw(u).view(-1, 1, 1, 1)) * min(1.0, s)
    thick = strokes.dilate(u, 3)
    changed = torch.where(r < 0.25, thick, torch.where(r < 0.45, strokes.erode(u, 2), (thick - u).clamp(0, 1)))
    return u + (r < 0.5).to(u.dtype) * w * (changed - u)


def blur(u: torch.Tensor, draw: Draw, s: float, p: float) -> torch.Tensor:
    """Gaussian blur of std up to 1.4·s and motion blur along up to 6·s pixels, for a share p of the images."""
    r, on = draw(u, 3), draw.chosen(u, p).view(-1)
    kernels = strokes.blur_kernels(0.3 + on * r[:, 0] * 1.1 * s, on * r[:, 1] * 6 * s, r[:, 2] * math.pi)
    return strokes.filter_each(u, kernels)


def marks(u: torch.Tensor, draw: Draw, s: float, p: float) -> torch.Tensor:
    """A stray line (solid or dotted) or two ink blots for a share p; an erased box or grille stripes for p / 2."""
    h = u.shape[-1]
    ends = draw(u, 1, 4) * (h - 1)
    dotted = torch.where(draw(u, 1) < 0.5, 3 + 3 * draw(u, 1), torch.full_like(ends[..., 0], 1e4))
    line = strokes.segments(ends[..., :2], ends[..., 2:], 0.8 + 1.7 * draw(u, 1), h, h, dash=dotted)
    blots = strokes.discs(2 + draw(u, 2, 2) * (h - 5), (0.6 + 1.2 * draw(u, 2)) * s, h, h)
    u = torch.maximum(u, torch.where(draw(u).view(-1, 1, 1, 1) < 0.6, line, blots) * draw.chosen(u, p))
    box = strokes.boxes(draw(u, 2) * (h - 8), 3 + draw(u, 2) * 6 * s, h, h)
    ys, xs = strokes.pixel_grid(h, h, u.device)
    angle, period = draw(u).view(-1, 1, 1, 1) * math.pi, 3 + 2 * draw(u).view(-1, 1, 1, 1)
    bars = (torch.frac((xs * torch.cos(angle) + ys * torch.sin(angle)) / period) < 1 / period).to(u.dtype)
    hole = torch.where(draw(u).view(-1, 1, 1, 1) < 0.5, box, bars) * draw.chosen(u, p / 2)
    return u * (1 - hole)


def paper(u: torch.Tensor, draw: Draw, s: float, p: float) -> torch.Tensor:
    """Faint ink (down to 20%), gray paper (up to 0.6·s), a fog of up to 0.6·s, for shares p of the images."""
    h = u.shape[-1]
    faint = 1 - draw.chosen(u, p) * draw(u).view(-1, 1, 1, 1) * 0.8 * min(1.0, s)
    gray = draw.chosen(u, p) * draw(u).view(-1, 1, 1, 1) * 0.6 * s
    fog = strokes.coarse_field(draw(u, 1, 4, 4), h, h).clamp(0, 1) * draw.chosen(u, p) * draw(u).view(-1, 1, 1, 1) * 0.6 * s
    return (gray + (1 - gray) * u * faint + fog).clamp(0, 1)


def noise(u: torch.Tensor, draw: Draw, s: float, p: float) -> torch.Tensor:
    """Uniform noise of std up to 0.12·s and salt and pepper on up to 6%·s of the pixels, for a share p."""
    on = draw.chosen(u, p)
    gauss = (draw(u, *u.shape[1:]) - 0.5) * 0.4 * s * draw(u).view(-1, 1, 1, 1) * on
    r, level = draw(u, *u.shape[1:]), 0.06 * s * draw(u).view(-1, 1, 1, 1) * on
    u = (u + gauss).clamp(0, 1)
    return torch.where(r < level / 2, 1.0, torch.where(r < level, 0.0, u))


def low_resolution(u: torch.Tensor, draw: Draw, s: float, p: float) -> torch.Tensor:
    """Down to 9x9 and back, for a share p of the images."""
    return u + draw.chosen(u, p) * (strokes.resample(u, 9) - u)


# The robust recipe's items in the order they apply, each with what it does at strength 1 (share of images p).
ROBUST: dict[str, Callable] = {
    "elastic": lambda u, d, s: elastic(u, d, s),
    "stroke": lambda u, d, s: stroke_width(u, d, s),
    "blur": lambda u, d, s: blur(u, d, s, 0.25),
    "lowres": lambda u, d, s: low_resolution(u, d, s, 0.12),
    "lines": lambda u, d, s: marks(u, d, s, 0.3),
    "contrast": lambda u, d, s: paper(u, d, s, 0.2),
    "noise": lambda u, d, s: noise(u, d, s, 0.2),
}


def parse_augment(text: str) -> dict[str, float]:
    """'none', 'affine', or a comma-separated list of ROBUST items with optional strengths ('elastic,blur=0.5')."""
    if text in AUGMENTATIONS:
        return {} if text == "none" else {"affine": 1.0}
    items = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        if name not in ROBUST:
            raise UserError(f"--augment: unknown augmentation {name!r}; use none, affine, or a list of "
                            f"{', '.join(ROBUST)} with optional strengths, e.g. 'elastic,blur=0.5'")
        try:
            strength = float(value) if value else 1.0
        except ValueError:
            strength = -1.0
        if not 0 < strength <= 2:
            raise UserError(f"--augment {part}: the strength must be a number above 0 and at most 2 (e.g. {name}=0.5)")
        items[name] = strength
    if not items:
        raise UserError("--augment: empty list; give none, affine, or items such as 'elastic,blur=0.5'")
    return items


SHARE = 0.5  # of each batch augmented (the first half: the batch order is a random permutation); the rest stays clean


def robust_augment(x: torch.Tensor, items: dict[str, float], draw: Draw, background: float, scale: float) -> torch.Tensor:
    """The listed ROBUST items on the first SHARE of a batch of normalized images x: to ink in [0, 1], each item
    in order, back. The other images stay as they are, which keeps clean accuracy and halves the cost."""
    k = max(1, int(len(x) * SHARE))
    u = ((x[:k] - background) / scale).clamp(0, 1)
    for name, fn in ROBUST.items():
        if name in items:
            u = fn(u, draw, items[name])
    return torch.cat([u * scale + background, x[k:]])


def make_augment(name: str, normalizer: Normalizer, device: torch.device,
                 seed: int) -> Callable[[torch.Tensor], torch.Tensor] | None:
    items = parse_augment(name)
    if not items:
        return None
    channels = len(normalizer.mean) if isinstance(normalizer.mean, tuple) else 1
    black = normalizer(np.zeros((1, channels, 1, 1), dtype=np.uint8), device)  # per channel for colour
    background = float(black.item()) if channels == 1 else black
    # On the CPU a generator of its own (seed + 1); on CUDA the device's default generator (seeded by `fit`),
    # the one a captured step replays with fresh numbers every time: drawing on the host could not be captured.
    generator = torch.Generator().manual_seed(seed + 1) if device.type == "cpu" else None
    if "affine" in items:
        return lambda x: random_affine(x, generator, background)
    if channels != 1:
        raise UserError(f"--augment {name}: the robust augmentations are for 1-channel digits; use affine for colour")
    white = float(normalizer(np.full((1, 1, 1, 1), 255, dtype=np.uint8), "cpu").item())
    draw = Draw(generator)
    return lambda x: robust_augment(x, items, draw, background, white - background)
