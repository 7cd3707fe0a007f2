"""Train-time augmentation on whole batches on the device: random affine warps of the digits, and the robust
recipe's list (elastic warps, stroke width and outlines, blur, low resolution, stray lines, spatter, erasing and
grilles, contrast and paper, noise) drawn inside the step.

Every operation runs with fixed shapes and draws its random numbers on the device (on CUDA the default
generator, which a captured step replays with fresh numbers; on the CPU a seeded generator of its own): no value
is read back to the host, and the same operations run at every step, so the step stays graph-safe
(train/graphcheck.py). Each operation changes a fixed slice of the shuffled batch (`share`); a strength scales it.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..data import strokes
from ..data.transforms import Normalizer
from ..errors import UserError, named
from ..lazy import lazy_module

torch = lazy_module("torch")  # ROBUST's names are read by --help; torch loads when an augmentation runs
F = lazy_module("torch.nn.functional")

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


def share(u: torch.Tensor, lo: float, hi: float, fn: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """u with fn applied to its images from share lo to share hi of the batch, in place. The batch order is a
    random permutation, so a fixed slice is a random choice of images, and an operation costs only the images it
    changes (no computing it for every image and masking)."""
    a, b = round(len(u) * lo), round(len(u) * hi)
    if b > a:
        u[a:b] = fn(u[a:b])
    return u


def _per_image(draw: Draw, v: torch.Tensor) -> torch.Tensor:
    return draw(v).view(-1, 1, 1, 1)


def _towards(v: torch.Tensor, changed: torch.Tensor, draw: Draw, s: float) -> torch.Tensor:
    """v moved towards `changed`, half to all the way, times s (capped at all the way)."""
    return v + (0.5 + 0.5 * _per_image(draw, v)) * min(1.0, s) * (changed - v)


def elastic(u: torch.Tensor, draw: Draw, s: float) -> torch.Tensor:
    """One warp of every image: rotation ±25°·s, shear ±0.3·s, zoom 1 - 0.35·s .. 1 + 0.1·s, shift ±3·s px, and a
    smooth random displacement field of about s pixels (elastic distortion: a random 4x4 grid, upsampled)."""
    n, h = len(u), u.shape[-1]
    r = draw(u, 5)
    theta = strokes.affine_theta((2 * r[:, 0] - 1) * math.radians(25 * s), (2 * r[:, 1] - 1) * 0.3 * s,
                                 1 - 0.35 * s + r[:, 2] * 0.45 * s, (2 * r[:, 3] - 1) * 6 * s / h, (2 * r[:, 4] - 1) * 6 * s / h)
    flow = strokes.coarse_field(2 * draw(u, 2, 4, 4) - 1, h, h).permute(0, 2, 3, 1) * (2 * s / h)
    return strokes.warp(u, theta, flow.reshape(n, h, h, 2))


def _thicker(v: torch.Tensor, draw: Draw, s: float) -> torch.Tensor:
    """Strokes 1, 2 or 3 pixels wider (dilation)."""
    r, two, three = _per_image(draw, v), strokes.dilate(v, 2), strokes.dilate(v, 3)
    return _towards(v, torch.where(r < 1 / 3, two, torch.where(r < 2 / 3, three, strokes.dilate(three, 2))), draw, s)


def _thinner(v: torch.Tensor, draw: Draw, s: float) -> torch.Tensor:
    """Strokes eroded by a pixel or two."""
    once = strokes.erode(v, 2)
    return _towards(v, torch.where(_per_image(draw, v) < 0.5, once, strokes.erode(once, 2)), draw, s)


def hollow(v: torch.Tensor, draw: Draw, s: float) -> torch.Tensor:
    """Outline only: a 1- or 2-pixel edge around the strokes (dilated minus the stroke), for half with the stroke
    kept faintly inside (30% to 60%)."""
    once = strokes.dilate(v, 3)
    edge = (torch.where(_per_image(draw, v) < 0.5, once, strokes.dilate(once, 3)) - v).clamp(0, 1)
    inside = v * (_per_image(draw, v) < 0.5).to(v.dtype) * (0.3 + 0.3 * _per_image(draw, v))
    return v + min(1.0, s) * (torch.maximum(edge, inside) - v)


def stroke_width(u: torch.Tensor, draw: Draw, s: float) -> torch.Tensor:
    """Thicker strokes for 15% of the images, thinner for 15%, hollow (the outline) for 25%."""
    u = share(u, 0.0, 0.15, lambda v: _thicker(v, draw, s))
    u = share(u, 0.15, 0.3, lambda v: _thinner(v, draw, s))
    return share(u, 0.3, 0.55, lambda v: hollow(v, draw, s))


def blur(u: torch.Tensor, draw: Draw, s: float) -> torch.Tensor:
    """Gaussian blur of std 0.3 to 1.4·s, for half of them along a motion line of up to 7·s pixels, for a fifth of
    the images."""
    def one(v: torch.Tensor) -> torch.Tensor:
        r = draw(v, 3)
        motion = (r[:, 1] < 0.5).to(v.dtype) * r[:, 1] * 14 * s
        return strokes.filter_each(v, strokes.blur_kernels(0.3 + r[:, 0] * 1.1 * s, motion, r[:, 2] * math.pi))
    return share(u, 0.5, 0.7, one)


def low_resolution(u: torch.Tensor, draw: Draw, s: float) -> torch.Tensor:
    """Down to 8x8 or 12x12 and back, for a tenth of the images."""
    u = share(u, 0.7, 0.75, lambda v: _towards(v, strokes.resample(v, 8), draw, s))
    return share(u, 0.75, 0.8, lambda v: _towards(v, strokes.resample(v, 12), draw, s))


def stripes(v: torch.Tensor, draw: Draw, s: float) -> torch.Tensor:
    """Gaps of s pixels every 3 to 5 pixels at a random angle and phase (a grille in front of the digit)."""
    angle, period, phase = _per_image(draw, v) * math.pi, 3 + 2 * _per_image(draw, v), _per_image(draw, v)
    return v * strokes.grille(angle, period, phase, min(1.0, s), *v.shape[-2:]).to(v.dtype)


def _stray(v: torch.Tensor, draw: Draw, s: float) -> torch.Tensor:
    """A solid or dotted line anywhere (half) or a spatter of up to about 12·s ink blots 2 to 4 pixels wide."""
    h = v.shape[-1]
    ends = draw(v, 1, 4) * (h - 1)
    dotted = torch.where(draw(v, 1) < 0.5, 3 + 3 * draw(v, 1), torch.full_like(ends[..., 0], 1e4))
    line = strokes.segments(ends[..., :2], ends[..., 2:], (0.8 + 1.7 * draw(v, 1)) * min(1.0, s), h, h, dash=dotted)
    seeds = (draw(v, *v.shape[1:]) < 0.016 * s * _per_image(draw, v)).to(v.dtype)  # up to ~12 blots, anywhere
    r, two, three = _per_image(draw, v), strokes.dilate(seeds, 2), strokes.dilate(seeds, 3)
    blots = torch.where(r < 1 / 3, two, torch.where(r < 2 / 3, three, strokes.dilate(two, 3)))  # 2 to 4 pixels wide
    return torch.maximum(v, torch.where(_per_image(draw, v) < 0.5, line, blots))


def marks(u: torch.Tensor, draw: Draw, s: float) -> torch.Tensor:
    """A stray line or spatter for 30% of the images, an erased box for 10%, grille stripes for 20%."""
    h = u.shape[-1]
    u = share(u, 0.1, 0.4, lambda v: _stray(v, draw, s))
    u = share(u, 0.7, 0.8, lambda v: v * (1 - strokes.boxes(draw(v, 2) * (h - 8), 3 + draw(v, 2) * 6 * s, h, h)))
    return share(u, 0.8, 1.0, lambda v: stripes(v, draw, s))


def paper(u: torch.Tensor, draw: Draw, s: float) -> torch.Tensor:
    """Faint ink (down to 20%) for 15% of the images, gray paper (up to 0.6·s) for 20%, a fog (up to 0.6·s) for 15%."""
    h = u.shape[-1]
    u = share(u, 0.0, 0.15, lambda v: v * (1 - _per_image(draw, v) * 0.8 * min(1.0, s)))
    u = share(u, 0.3, 0.5, lambda v: (lambda g: g + (1 - g) * v)(_per_image(draw, v) * 0.6 * s))
    fog = lambda v: (v + strokes.coarse_field(draw(v, 1, 4, 4), h, h).clamp(0, 1) * _per_image(draw, v) * 0.6 * s)  # noqa: E731
    return share(u, 0.55, 0.7, lambda v: fog(v).clamp(0, 1))


def noise(u: torch.Tensor, draw: Draw, s: float) -> torch.Tensor:
    """Uniform noise of std up to 0.12·s and salt and pepper on up to 6%·s of the pixels, for a fifth of the images."""
    def one(v: torch.Tensor) -> torch.Tensor:
        gauss = (draw(v, *v.shape[1:]) - 0.5) * 0.4 * s * _per_image(draw, v)
        r, level = draw(v, *v.shape[1:]), 0.06 * s * _per_image(draw, v)
        v = (v + gauss).clamp(0, 1)
        return torch.where(r < level / 2, 1.0, torch.where(r < level, 0.0, v))
    return share(u, 0.8, 1.0, one)


# The robust recipe's items in the order they apply: each takes the augmented images (ink in [0, 1]), the draw
# and a strength (1: as documented) and changes its own fixed shares of them (see `share`).
ROBUST: dict[str, Callable] = {
    "elastic": elastic,
    "stroke": stroke_width,
    "blur": blur,
    "lowres": low_resolution,
    "lines": marks,
    "contrast": paper,
    "noise": noise,
}


SHARE = 0.5  # of each batch augmented unless the list says `share=`: the first images (the batch is shuffled)


def _number(part: str, value: str, low: float, high: float, what: str) -> float:
    try:
        number = float(value) if value else 1.0
    except ValueError:
        number = -1.0
    if not low < number <= high:
        raise UserError(f"{named('augment', part)}: {what} must be a number above {low:g} and at most {high:g} "
                        f"(e.g. {part.partition('=')[0]}=0.5)")
    return number


def parse_augment(text: str) -> dict[str, float]:
    """'none', 'affine', or a comma-separated list of ROBUST items with optional strengths ('elastic,blur=0.5'),
    and optionally `share=F`, the fraction of each batch augmented (the rest stays clean; default SHARE), and
    `until=F`, the fraction of the training steps augmented (the last steps see clean digits only)."""
    if text in AUGMENTATIONS:
        return {} if text == "none" else {"affine": 1.0}
    items = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        if name in ("share", "until"):
            items[name] = _number(part, value, 0, 1, "the share of each batch augmented" if name == "share"
                                  else "the fraction of the training steps augmented")
            continue
        if name not in ROBUST:
            raise UserError(f"{named('augment')}: unknown augmentation {name!r}; use none, affine, or a list of "
                            f"{', '.join(ROBUST)} with optional strengths, e.g. 'elastic,blur=0.5'")
        items[name] = _number(part, value, 0, 2, "the strength")
    if not set(items) - {"share", "until"}:
        raise UserError(f"{named('augment')}: empty list; give none, affine, or items such as 'elastic,blur=0.5'")
    return items


def robust_augment(x: torch.Tensor, items: dict[str, float], draw: Draw, background: float, scale: float,
                   live: torch.Tensor | None = None) -> torch.Tensor:
    """The listed ROBUST items on the first share of a batch of normalized images x: to ink in [0, 1], each item
    in order, back. The other images stay as they are, which keeps clean accuracy and saves their cost. `live`, a
    boolean on the device, keeps the whole batch clean where it is false, with the same operations issued."""
    k = max(1, int(len(x) * items.get("share", SHARE)))
    u = ((x[:k] - background) / scale).clamp(0, 1)
    for name, fn in ROBUST.items():
        if name in items:
            u = fn(u, draw, items[name])
    u = u * scale + background
    return torch.cat([u if live is None else torch.where(live, u, x[:k]), x[k:]])


def _until(items: dict[str, float], total_steps: int) -> Callable[[int | torch.Tensor | None], bool | torch.Tensor]:
    """Whether a step is augmented under `until=F`: a bool for a step counted on the host (eager), a boolean tensor
    for the device's step counter (a captured step issues the same operations on every replay)."""
    last = math.ceil(items.get("until", 1.0) * total_steps) if total_steps else None

    def live(step: int | torch.Tensor | None) -> bool | torch.Tensor:
        if last is None or step is None or last >= total_steps:
            return True
        return step < last

    return live


def make_augment(name: str, normalizer: Normalizer, device: torch.device, seed: int,
                 total_steps: int = 0) -> Callable[..., torch.Tensor] | None:
    """The step's augmentation, `augment(x, step=None)`: `step` is the optimizer step, counted on the host (an int)
    or on the device (a tensor), which `until=F` of `total_steps` reads; None augments."""
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
        return lambda x, step=None: random_affine(x, generator, background)
    if channels != 1:
        raise UserError(f"{named('augment', name)}: the robust augmentations are for 1-channel digits; use affine for colour")
    white = float(normalizer(np.full((1, 1, 1, 1), 255, dtype=np.uint8), "cpu").item())
    draw, live = Draw(generator), _until(items, total_steps)

    def augment(x: torch.Tensor, step: int | torch.Tensor | None = None) -> torch.Tensor:
        on = live(step)
        if on is False:  # the host knows the step: the clean tail costs nothing
            return x
        return robust_augment(x, items, draw, background, white - background, None if on is True else on)

    return augment
