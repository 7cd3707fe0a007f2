"""A corruption benchmark of our own: how a model reads digits that are noisy, blurred, turned, faint, on gray
paper, with marks beside them, thick or thin, scanned coarsely or drawn in outline.

Every corruption keeps the digit readable to a person (the idea of MNIST-C, Mu & Gilmer 2019; the code is
ours). Each works on float images (N, 1, 28, 28) in [0, 1], ink high, at severity 1, 2 or 3, with its random
numbers from a generator seeded by the corruption's name, the severity and `seed`: the same images every time.
A corrupted image is scored twice: raw into the model, and through `predict`'s preparation
(data/prepare.to_mnist), which is what a user's file goes through.
"""
from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from ..data.strokes import (
    affine_theta,
    blur_kernels,
    coarse_field,
    dilate,
    discs,
    erode,
    filter_each,
    grille,
    pixel_grid,
    resample,
    segments,
    warp,
)
from ..errors import UserError
from ..lazy import lazy_module
from ..registry import add

torch = lazy_module("torch")  # CORRUPTIONS is read by --help; torch loads when a corruption runs

SEVERITIES = (1, 2, 3)
QUICK = 1000  # test images in --quick


@dataclass(frozen=True)
class Corruption:
    name: str
    family: str
    about: str  # what severities 1..3 do, for the docs and --help
    apply: Callable[[torch.Tensor, int, torch.Generator], torch.Tensor]


CORRUPTIONS: dict[str, Corruption] = {}  # the registry, filled below in the order the table shows


def corruption(name: str, family: str, about: str):
    def register(fn: Callable[[torch.Tensor, int, torch.Generator], torch.Tensor]):
        add(CORRUPTIONS, name, Corruption(name, family, about, fn), "corruption")
        return fn
    return register


def families() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for c in CORRUPTIONS.values():
        out.setdefault(c.family, []).append(c.name)
    return out


def _rand(x: torch.Tensor, g: torch.Generator, *shape: int) -> torch.Tensor:
    """Uniform [0, 1) numbers (N, *shape) from the suite's CPU generator, on x's device."""
    return torch.rand(len(x), *shape, generator=g).to(x.device)


def _sign(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    return torch.where(_rand(x, g) < 0.5, -1.0, 1.0)


def _geometry(x: torch.Tensor, angle=0.0, shear=0.0, zoom=1.0, tx=0.0, ty=0.0) -> torch.Tensor:
    n = len(x)
    full = lambda v: v if isinstance(v, torch.Tensor) else torch.full((n,), float(v), device=x.device)  # noqa: E731
    return warp(x, affine_theta(full(angle), full(shear), full(zoom), full(tx), full(ty)))


@corruption("shot_noise", "noise", "photon counts: Poisson noise at 30, 12, 5 counts per full-ink pixel")
def _shot(x, s, g):
    lam = (30, 12, 5)[s - 1]
    return torch.poisson(x.cpu() * lam, generator=g).to(x.device) / lam


@corruption("impulse_noise", "noise", "salt and pepper: 3%, 6%, 10% of pixels set to white or black")
def _impulse(x, s, g):
    p, u = (0.03, 0.06, 0.10)[s - 1], _rand(x, g, *x.shape[1:])
    return torch.where(u < p / 2, 1.0, torch.where(u < p, 0.0, x))


@corruption("gaussian_blur", "blur", "out of focus: Gaussian blur of std 0.8, 1.1, 1.4 pixels")
def _gaussian_blur(x, s, g):
    sigma = torch.full((len(x),), (0.8, 1.1, 1.4)[s - 1], device=x.device)
    return filter_each(x, blur_kernels(sigma, torch.zeros_like(sigma), torch.zeros_like(sigma)))


@corruption("motion_blur", "blur", "a shaken camera: blur along a line of 3, 5, 7 pixels at a random angle")
def _motion_blur(x, s, g):
    n = len(x)
    length = torch.full((n,), float((3, 5, 7)[s - 1]), device=x.device)
    return filter_each(x, blur_kernels(torch.full_like(length, 0.5), length, _rand(x, g) * math.pi))


@corruption("rotate", "geometry", "turned by 15, 22.5, 30 degrees either way")
def _rotate(x, s, g):
    return _geometry(x, angle=_sign(x, g) * math.radians((15, 22.5, 30)[s - 1]))


@corruption("shear", "geometry", "slanted: horizontal shear of 0.25, 0.4, 0.55 either way")
def _shear(x, s, g):
    return _geometry(x, shear=_sign(x, g) * (0.25, 0.4, 0.55)[s - 1])


@corruption("scale_down", "geometry", "written small: the digit at 70%, 55%, 40% of its size")
def _scale_down(x, s, g):
    return _geometry(x, zoom=(0.7, 0.55, 0.4)[s - 1])


@corruption("translate", "geometry", "off centre: moved 3, 5, 7 pixels in a random direction")
def _translate(x, s, g):
    angle, d = _rand(x, g) * 2 * math.pi, (3, 5, 7)[s - 1] * 2 / x.shape[-1]
    return _geometry(x, tx=d * torch.cos(angle), ty=d * torch.sin(angle))


@corruption("faint_ink", "contrast", "a pencil pressed lightly: ink at 40%, 25%, 12% of full strength")
def _faint(x, s, g):
    return x * (0.4, 0.25, 0.12)[s - 1]


@corruption("gray_background", "contrast", "gray paper: the background at 30%, 45%, 60% gray")
def _gray(x, s, g):
    b = (0.3, 0.45, 0.6)[s - 1]
    return b + (1 - b) * x


@corruption("fog", "contrast", "uneven light: a smooth random haze up to 30%, 50%, 70% strong")
def _fog(x, s, g):
    field = coarse_field(_rand(x, g, 1, 4, 4), *x.shape[-2:]).clamp(0, 1)
    return (x + (0.3, 0.5, 0.7)[s - 1] * field).clamp(0, 1)


@corruption("stripes", "occlusion", "a grille in front: 1-pixel gaps every 5, 4, 3 pixels at a random angle")
def _stripes(x, s, g):
    angle, phase = (_rand(x, g) * math.pi).view(-1, 1, 1, 1), _rand(x, g).view(-1, 1, 1, 1)
    return x * grille(angle, float((5, 4, 3)[s - 1]), phase, 1.0, *x.shape[-2:]).to(x.dtype)


@corruption("cut", "occlusion", "a broken stroke: a gap 1, 2, 3 pixels wide through the digit's middle at a random angle")
def _cut(x, s, g):
    angle = (_rand(x, g) * math.pi).view(-1, 1, 1, 1)
    ys, xs = pixel_grid(*x.shape[-2:], x.device)
    across = (xs - 14.0) * torch.cos(angle) + (ys - 14.0) * torch.sin(angle)  # MNIST's centre of mass: (14, 14)
    return x * (across.abs() >= s / 2).to(x.dtype)


@corruption("negative_band", "occlusion", "a strip of the scan in negative: 2, 3, 4 rows or columns across the "
            "frame inverted, through the digit")
def _negative_band(x, s, g):
    width, side = (2, 3, 4)[s - 1], x.shape[-1]
    ys, xs = pixel_grid(*x.shape[-2:], x.device)
    along = torch.where((_rand(x, g) < 0.5).view(-1, 1, 1, 1), xs, ys)  # columns or rows
    start = (side / 2 - width / 2 + (_rand(x, g) - 0.5) * side * 0.4).round().view(-1, 1, 1, 1)
    band = (along >= start) & (along < start + width)
    return torch.where(band, 1 - x, x)


@corruption("crossing", "stray marks", "a pen line across the whole frame through the digit: straight 1 pixel "
            "wide, a zigzag of 3 strokes 1.5 wide, of 5 strokes 2 wide")
def _crossing(x, s, g):
    k, side = (1, 3, 5)[s - 1], x.shape[-1]
    angle = _rand(x, g) * math.pi
    direction = torch.stack([torch.sin(angle), torch.cos(angle)], 1)  # (row, col)
    centre = side / 2 - 0.5 + (_rand(x, g, 2) - 0.5) * 8  # through the digit, near the middle
    t = torch.linspace(-0.75, 0.75, k + 1, device=x.device).view(1, -1, 1) * side  # past the frame's edges
    points = centre[:, None] + t * direction[:, None]
    normal = torch.stack([-direction[:, 1], direction[:, 0]], 1)
    wiggle = torch.tensor([(-1) ** i for i in range(k + 1)], device=x.device, dtype=x.dtype).view(1, -1, 1)
    points = points + (k > 1) * wiggle * (2 + 2 * _rand(x, g))[:, None, None] * normal[:, None]
    width = torch.full((len(x), k), (1.0, 1.5, 2.0)[s - 1], device=x.device)
    return torch.maximum(x, segments(points[:, :-1], points[:, 1:], width, *x.shape[-2:]))


def _beside(x: torch.Tensor, g: torch.Generator, length: float, gap: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Two end points (N, 2) of a line `length` pixels long beside each digit, on the side of it with the most
    room (vertical left or right of it, horizontal above or below), `gap` pixels from its ink where the frame
    has room, else at the frame's edge."""
    side = x.shape[-1]
    ink = x[:, 0] > 0.1
    rows, cols = ink.any(2), ink.any(1)
    idx = torch.arange(side, device=x.device, dtype=x.dtype)
    first = lambda m: torch.where(m, idx, float(side)).amin(1)  # noqa: E731
    last = lambda m: torch.where(m, idx, -1.0).amax(1)  # noqa: E731
    top, bottom, left, right = first(rows), last(rows), first(cols), last(cols)
    room = torch.stack([left, side - 1 - right, top, side - 1 - bottom], 1) + _rand(x, g, 4)  # ties at random
    choice = room.argmax(1)
    across = torch.stack([left - gap, right + gap, top - gap, bottom + gap], 1).gather(1, choice[:, None])[:, 0]
    across = across.clamp(1.0, side - 2.0)
    middle = torch.where(choice < 2, (top + bottom) / 2, (left + right) / 2) + (_rand(x, g) - 0.5) * 4
    a, b = middle - length / 2, middle + length / 2
    vertical = (choice < 2)[:, None]
    p0 = torch.where(vertical, torch.stack([a, across], 1), torch.stack([across, a], 1))
    p1 = torch.where(vertical, torch.stack([b, across], 1), torch.stack([across, b], 1))
    return p0, p1


@corruption("dotted_line", "stray marks", "a dotted line beside the digit, 12, 18, 24 pixels long, dots 1.5-2.5 wide")
def _dotted(x, s, g):
    p0, p1 = _beside(x, g, (12, 18, 24)[s - 1], gap=4.0)
    n = len(x)
    width = torch.full((n, 1), (1.5, 2.0, 2.5)[s - 1], device=x.device)
    line = segments(p0[:, None], p1[:, None], width, *x.shape[-2:], dash=torch.full((n, 1), 4.0, device=x.device))
    return torch.maximum(x, line)


@corruption("zigzag", "stray marks", "a zigzag stroke beside the digit, 10, 15, 20 pixels long")
def _zigzag(x, s, g):
    p0, p1 = _beside(x, g, (10, 15, 20)[s - 1], gap=6.0)
    k = 5  # segments
    t = torch.linspace(0, 1, k + 1, device=x.device).view(1, -1, 1)
    points = p0[:, None] + t * (p1 - p0)[:, None]  # (N, k + 1, 2) along the line
    normal = torch.stack([-(p1 - p0)[:, 1], (p1 - p0)[:, 0]], 1)
    normal = normal / normal.norm(dim=1, keepdim=True).clamp_min(1e-6)
    wiggle = torch.tensor([(-1) ** i for i in range(k + 1)], device=x.device, dtype=x.dtype).view(1, -1, 1) * 1.5
    points = points + wiggle * normal[:, None]
    width = torch.full((len(x), k), (1.0, 1.5, 2.0)[s - 1], device=x.device)
    return torch.maximum(x, segments(points[:, :-1], points[:, 1:], width, *x.shape[-2:]))


@corruption("spatter", "stray marks", "ink spatter: 4, 7, 10 blots of radius 0.8, 1.2, 1.6 pixels anywhere")
def _spatter(x, s, g):
    count, radius = (4, 7, 10)[s - 1], (0.8, 1.2, 1.6)[s - 1]
    centres = 2 + _rand(x, g, count, 2) * (x.shape[-1] - 5)
    return torch.maximum(x, discs(centres, torch.full((len(x), count), radius, device=x.device), *x.shape[-2:]))


@corruption("thick", "stroke", "a felt pen: strokes 1, 2, 3 pixels wider")
def _thick(x, s, g):
    return dilate(x, s + 1)


@corruption("thin", "stroke", "a fine pen: strokes eroded by half a pixel, a pixel, a pixel and a half")
def _thin(x, s, g):
    once = erode(x, 2)
    return (x + once) / 2 if s == 1 else once if s == 2 else (once + erode(once, 2)) / 2


@corruption("low_resolution", "resolution", "a coarse scan: down to 14x14, 10x10, 8x8 and back")
def _low_resolution(x, s, g):
    return resample(x, (14, 10, 8)[s - 1])


@corruption("outline", "outline", "outline only: the strokes hollow, an outline 1, 1, 2 pixels around them")
def _outline(x, s, g):
    edge = (dilate(x, 3 if s < 3 else 5) - x).clamp(0, 1)
    return torch.maximum(edge, x / 2) if s == 1 else edge


def check_names(names: Iterable[str]) -> list[str]:
    names = list(names)
    unknown = [n for n in names if n not in CORRUPTIONS]
    if unknown:
        raise UserError(f"unknown corruption {unknown[0]!r}; choose from: {', '.join(CORRUPTIONS)}")
    return names


def corrupt(images, name: str, severity: int, seed: int = 0) -> np.ndarray:
    """Corrupted copies of uint8 images (N, 28, 28): uint8 (N, 28, 28), the same for the same name, severity and seed."""
    check_names([name])
    if severity not in SEVERITIES:
        raise UserError(f"severity {severity}: choose 1, 2 or 3")
    g = torch.Generator().manual_seed(zlib.crc32(f"{name}/{severity}/{seed}".encode()))
    x = torch.tensor(np.asarray(images), dtype=torch.float32)[:, None] / 255.0
    with torch.no_grad():
        out = CORRUPTIONS[name].apply(x, severity, g).clamp(0, 1)
    return (out[:, 0] * 255).round().to(torch.uint8).numpy()


def prepared(images: np.ndarray, run=None) -> np.ndarray:
    """Each image through `predict`'s preparation, as a user's file would go (`readings(images).read_by(run)`;
    without a run, the preparation's own reading)."""
    ready = readings(images)
    return ready.prepared if run is None else ready.read_by(run)


@dataclass(frozen=True)
class Readings:
    """Images prepared once for every run that reads them: uint8 (K, N, 28, 28), the preparation's reading first,
    then an image's other readings where it has them (prepare.readings; elsewhere the prepared one again)."""

    options: np.ndarray

    @property
    def prepared(self) -> np.ndarray:
        return self.options[0]

    def read_by(self, run) -> np.ndarray:
        """What `predict` with `run` feeds its model: of an image's readings, the one `run` reads most surely."""
        from ..data.prepare import surest  # scipy's ndimage, as in `readings`

        out = self.prepared.copy()
        several = np.nonzero(np.any(self.options != self.prepared, axis=(0, 2, 3)))[0]
        if len(several):
            pick = surest(run.confidence, self.options[:, several])
            out[several] = self.options[pick, several]
        return out


def readings(images: np.ndarray) -> Readings:
    """Every reading of each image (uint8, any size: a scan of 8x8 too); one the preparation refuses (nothing
    left to find) becomes a blank image, which the model then gets wrong or right by chance."""
    from ..data.prepare import MOST_READINGS  # scipy's ndimage: `robustness --help` reads CORRUPTIONS without it
    from ..data.prepare import readings as read

    options = np.zeros((MOST_READINGS, len(images), 28, 28), np.uint8)
    for i, image in enumerate(images):
        try:
            found = read(image / 255.0)
        except UserError:
            continue
        options[:, i] = found + found[:1] * (MOST_READINGS - len(found))
    return Readings(options)
