"""The model grammar: a space-separated list of layer tokens, e.g. `c10k5s2 c20k7s2 f5`.

    crop<n>                              crop n pixels off every border (MNIST digits sit in the middle 20x20)
    c<out>k<kernel>[s<stride>][p<pad>]   convolution
    m<k>[s<stride>] / a<k>[s<stride>]    max / average pooling (stride defaults to k)
    f<units>                             fully connected hidden layer
    d<p>                                 dropout with probability p (d0.25, d.5)
    bn                                   batch norm (after the layer before it, ahead of its activation)
    o<units>                             explicit output layer; must equal the number of classes

The activation, the flatten between conv and fully connected parts and the output
layer are added by the builder, so a spec says only what differs between models.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import UserError


@dataclass(frozen=True)
class Crop:
    pixels: int

    def __str__(self) -> str:
        return f"crop{self.pixels}"


@dataclass(frozen=True)
class Conv:
    out: int
    kernel: int
    stride: int = 1
    pad: int = 0

    def __str__(self) -> str:
        return f"c{self.out}k{self.kernel}" + (f"s{self.stride}" if self.stride != 1 else "") + (f"p{self.pad}" if self.pad else "")


@dataclass(frozen=True)
class Pool:
    kind: str  # "max" | "avg"
    kernel: int
    stride: int | None = None

    def __str__(self) -> str:
        return ("m" if self.kind == "max" else "a") + f"{self.kernel}" \
            + (f"s{self.stride}" if self.stride not in (None, self.kernel) else "")


@dataclass(frozen=True)
class Dense:
    units: int

    def __str__(self) -> str:
        return f"f{self.units}"


@dataclass(frozen=True)
class Dropout:
    p: float

    def __str__(self) -> str:
        return f"d{self.p!r}"


@dataclass(frozen=True)
class BatchNorm:
    def __str__(self) -> str:
        return "bn"


@dataclass(frozen=True)
class Output:
    units: int

    def __str__(self) -> str:
        return f"o{self.units}"


Layer = Crop | Conv | Pool | Dense | Dropout | BatchNorm | Output

_PATTERNS = [
    (re.compile(r"crop(\d+)"), lambda m: Crop(int(m[1]))),
    (re.compile(r"c(\d+)k(\d+)(?:s(\d+))?(?:p(\d+))?"), lambda m: Conv(int(m[1]), int(m[2]), int(m[3] or 1), int(m[4] or 0))),
    (re.compile(r"([ma])(\d+)(?:s(\d+))?"), lambda m: _pool(m[1], int(m[2]), int(m[3]) if m[3] else None)),
    (re.compile(r"f(\d+)"), lambda m: Dense(int(m[1]))),
    (re.compile(r"d(\d*\.?\d+)"), lambda m: Dropout(float(m[1]))),
    (re.compile(r"bn"), lambda m: BatchNorm()),
    (re.compile(r"o(\d+)"), lambda m: Output(int(m[1]))),
]


def _pool(letter: str, kernel: int, stride: int | None) -> Pool:
    """A stride equal to the window is the default, so `m2s2` and `m2` are the same layer."""
    return Pool("max" if letter == "m" else "avg", kernel, None if stride == kernel else stride)


MAX_SPEC = 10_000  # characters; a real spec is a few dozen
GRAMMAR_HELP = "tokens: crop<n>, c<out>k<kernel>[s<stride>][p<pad>], m<k>, a<k>, f<units>, d<p>, bn, o<classes>"


def parse_token(token: str, position: int) -> Layer:
    for pattern, make in _PATTERNS:
        match = pattern.fullmatch(token)
        if match:
            layer = make(match)
            _check_values(layer, token, position)
            return layer
    raise UserError(f"layer {position} {token[:40]!r}: unknown layer token; {GRAMMAR_HELP}")


MAX_UNITS, MAX_SIZE = 1_000_000, 4096  # units or channels per layer; kernel, stride, padding, crop or pool in pixels


def _check_values(layer: Layer, token: str, position: int) -> None:
    where = f"layer {position} {token[:40]!r}"
    counts = [getattr(layer, name) for name in ("out", "units") if hasattr(layer, name)]
    sizes = [getattr(layer, name) for name in ("kernel", "stride", "pad", "pixels") if getattr(layer, name, None) is not None]
    if any(c > MAX_UNITS for c in counts) or any(s > MAX_SIZE for s in sizes):
        raise UserError(f"{where}: at most {MAX_UNITS:,} units or channels per layer and {MAX_SIZE} pixels "
                        f"per kernel, stride, padding or crop")
    if isinstance(layer, Dropout) and not 0 <= layer.p < 1:
        raise UserError(f"{where}: dropout probability must be in [0, 1)")
    if isinstance(layer, Conv) and (layer.out < 1 or layer.kernel < 1 or layer.stride < 1):
        raise UserError(f"{where}: channels, kernel and stride must be at least 1")
    if isinstance(layer, Pool) and (layer.kernel < 1 or (layer.stride is not None and layer.stride < 1)):
        raise UserError(f"{where}: pool size and stride must be at least 1")
    if isinstance(layer, Crop) and layer.pixels < 1:
        raise UserError(f"{where}: crop at least 1 pixel (or leave the token out)")
    if isinstance(layer, (Dense, Output)) and layer.units < 1:
        raise UserError(f"{where}: needs at least 1 unit")


def parse_spec(spec: str) -> list[Layer]:
    """Parse a spec string; an empty spec is a linear model (input → output)."""
    if not isinstance(spec, str) or len(spec) > MAX_SPEC:
        raise UserError(f"model spec: expected a string of at most {MAX_SPEC} characters")
    layers = [parse_token(token, i) for i, token in enumerate(spec.lower().split(), start=1)]
    for i, layer in enumerate(layers[:-1], start=1):
        if isinstance(layer, Output):
            raise UserError(f"layer {i} {str(layer)!r}: the output layer must be the last token")
    return layers


def format_spec(layers: list[Layer]) -> str:
    return " ".join(str(layer) for layer in layers)
