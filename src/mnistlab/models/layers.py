"""The layer tokens of the model grammar: each kind is one class that says how it is written, which values it
accepts and what it builds, side by side. `TOKENS` (filled by `@token`) is the registry the parser reads, so a
new kind of layer is one class here.

    crop<n>                              crop n pixels off every border (MNIST digits sit in the middle 20x20)
    c<out>k<kernel>[s<stride>][p<pad>]   convolution
    m<k>[s<stride>] / a<k>[s<stride>]    max / average pooling (stride defaults to k)
    f<units>                             fully connected hidden layer
    d<p>                                 dropout with probability p (d0.25, d.5)
    bn                                   batch norm (after the layer before it, ahead of its activation)
    o<units>                             explicit output layer; must equal the number of classes
"""
from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from ..errors import UserError
from ..registry import add

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "linear": nn.Identity,
               "gelu": nn.GELU, "elu": nn.ELU, "leaky_relu": nn.LeakyReLU, "silu": nn.SiLU}
TOKENS: dict[str, type[Token]] = {}  # by how the help writes each kind, in the order the parser tries them


def token(pattern: str, written: str):
    """Register a layer kind: `pattern` matches its token, `written` is how the help shows it."""
    def register(cls: type[Token]) -> type[Token]:
        cls.pattern, cls.written = re.compile(pattern), written
        return add(TOKENS, written, cls, "layer token")
    return register


class Token:
    """One layer of a spec. `parse` reads a token's match, `check` refuses values, `build` adds modules."""

    pattern: ClassVar[re.Pattern]
    written: ClassVar[str]
    normalizable: ClassVar[bool] = False  # a batch norm may follow it (and then takes its activation)

    @classmethod
    def parse(cls, m: re.Match) -> Token:
        raise NotImplementedError

    def check(self) -> str | None:
        """What is wrong with the values, or None."""
        return None

    def build(self, net: Assembly, i: int) -> None:
        raise NotImplementedError


class CropBorder(nn.Module):
    """Drop `pixels` rows and columns on every side: the model still takes full-size images."""

    def __init__(self, pixels: int):
        super().__init__()
        self.pixels = pixels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.pixels
        return x[..., p:-p, p:-p]

    def extra_repr(self) -> str:
        return f"pixels={self.pixels}"


def _out_size(size: int, kernel: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - kernel) // stride + 1


class Assembly:
    """The network while it is built: the shape so far, the modules and one summary row per module."""

    def __init__(self, layers: list[Token], activation: str, input_shape: tuple[int, int, int], n_classes: int):
        self.layers, self.activation, self.n_classes = layers, activation, n_classes
        self.channels, self.height, self.width = input_shape
        self.features: int | None = None  # set once flattened
        self.modules: OrderedDict[str, nn.Module] = OrderedDict()
        self.rows: list[dict] = []
        self.counts: dict[str, int] = {}
        self.trail = [f"{self.height}x{self.width}"]

    def where(self, i: int) -> str:
        return f"layer {i + 1} {str(self.layers[i])!r}"

    def add(self, kind: str, module: nn.Module, token: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        name = f"{kind}{self.counts[kind]}" if kind not in ("crop", "flatten", "output", "head") else kind
        self.modules[name] = module
        shape = [self.features] if self.features is not None else [self.channels, self.height, self.width]
        self.rows.append({"name": name, "token": token, "output_shape": shape,
                          "params": sum(p.numel() for p in module.parameters())})

    def flatten(self) -> None:
        if self.features is None:
            self.features = self.channels * self.height * self.width
            self.add("flatten", nn.Flatten(), "")

    def activate(self, i: int) -> None:
        if i + 1 < len(self.layers) and isinstance(self.layers[i + 1], BatchNorm):
            return  # the batch norm that follows takes the activation after it
        self.add("act", ACTIVATIONS[self.activation](), self.activation)

    def finish(self, head: str) -> None:
        """The flatten (if no layer asked for it), the output layer and the head."""
        self.flatten()
        output = nn.Linear(self.features, self.n_classes)
        self.features = self.n_classes
        self.add("output", output, f"o{self.n_classes}")
        if head != "logits":
            self.add("head", nn.LogSoftmax(dim=1) if head == "log_softmax" else nn.Softmax(dim=1), head)

    def window(self, i: int, kernel: int, stride: int, pad: int, what: str) -> None:
        """A convolution or pooling window over the image: check it fits, then shrink the image."""
        if self.features is not None:
            raise UserError(f"{self.where(i)}: a {what} layer cannot follow a fully connected layer (the image is "
                            f"already flattened to {self.features}); put it earlier")
        if min(self.height, self.width) + 2 * pad < kernel:
            raise UserError(f"{self.where(i)}: needs an input of at least {kernel}x{kernel} but gets "
                            f"{self.height}x{self.width} ({' -> '.join(self.trail)}); use a smaller kernel or stride, "
                            f"or fewer layers")
        self.height, self.width = _out_size(self.height, kernel, stride, pad), _out_size(self.width, kernel, stride, pad)
        self.trail.append(f"{self.layers[i]} {self.height}x{self.width}")


@token(r"crop(\d+)", "crop<n>")
@dataclass(frozen=True)
class Crop(Token):
    pixels: int

    def __str__(self) -> str:
        return f"crop{self.pixels}"

    @classmethod
    def parse(cls, m: re.Match) -> Crop:
        return cls(int(m[1]))

    def check(self) -> str | None:
        return "crop at least 1 pixel (or leave the token out)" if self.pixels < 1 else None

    def build(self, net: Assembly, i: int) -> None:
        if net.features is not None or net.modules:
            raise UserError(f"{net.where(i)}: cropping works on the input image, so it must be the first token")
        if min(net.height, net.width) <= 2 * self.pixels:
            raise UserError(f"{net.where(i)}: cropping {self.pixels} pixels off every side of a {net.height}x{net.width} "
                            f"image leaves nothing; crop fewer pixels")
        net.height, net.width = net.height - 2 * self.pixels, net.width - 2 * self.pixels
        net.trail.append(f"{self} {net.height}x{net.width}")
        net.add("crop", CropBorder(self.pixels), str(self))


@token(r"c(\d+)k(\d+)(?:s(\d+))?(?:p(\d+))?", "c<out>k<kernel>[s<stride>][p<pad>]")
@dataclass(frozen=True)
class Conv(Token):
    out: int
    kernel: int
    stride: int = 1
    pad: int = 0
    normalizable: ClassVar[bool] = True

    def __str__(self) -> str:
        return f"c{self.out}k{self.kernel}" + (f"s{self.stride}" if self.stride != 1 else "") + (f"p{self.pad}" if self.pad else "")

    @classmethod
    def parse(cls, m: re.Match) -> Conv:
        return cls(int(m[1]), int(m[2]), int(m[3] or 1), int(m[4] or 0))

    def check(self) -> str | None:
        return "channels, kernel and stride must be at least 1" if min(self.out, self.kernel, self.stride) < 1 else None

    def build(self, net: Assembly, i: int) -> None:
        net.window(i, self.kernel, self.stride, self.pad, "convolution")
        module = nn.Conv2d(net.channels, self.out, self.kernel, self.stride, self.pad)
        net.channels = self.out
        net.add("conv", module, str(self))
        net.activate(i)


@token(r"([ma])(\d+)(?:s(\d+))?", "m<k>, a<k>")
@dataclass(frozen=True)
class Pool(Token):
    kind: str  # "max" | "avg"
    kernel: int
    stride: int | None = None

    def __str__(self) -> str:
        return ("m" if self.kind == "max" else "a") + f"{self.kernel}" \
            + (f"s{self.stride}" if self.stride not in (None, self.kernel) else "")

    @classmethod
    def parse(cls, m: re.Match) -> Pool:
        """A stride equal to the window is the default, so `m2s2` and `m2` are the same layer."""
        kernel, stride = int(m[2]), int(m[3]) if m[3] else None
        return cls("max" if m[1] == "m" else "avg", kernel, None if stride == kernel else stride)

    def check(self) -> str | None:
        bad = self.kernel < 1 or (self.stride is not None and self.stride < 1)
        return "pool size and stride must be at least 1" if bad else None

    def build(self, net: Assembly, i: int) -> None:
        stride = self.stride or self.kernel
        net.window(i, self.kernel, stride, 0, "pooling")
        pool = nn.MaxPool2d if self.kind == "max" else nn.AvgPool2d
        net.add("pool", pool(self.kernel, stride), str(self))


@token(r"f(\d+)", "f<units>")
@dataclass(frozen=True)
class Dense(Token):
    units: int
    normalizable: ClassVar[bool] = True

    def __str__(self) -> str:
        return f"f{self.units}"

    @classmethod
    def parse(cls, m: re.Match) -> Dense:
        return cls(int(m[1]))

    def check(self) -> str | None:
        return "needs at least 1 unit" if self.units < 1 else None

    def build(self, net: Assembly, i: int) -> None:
        net.flatten()
        module = nn.Linear(net.features, self.units)
        net.features = self.units
        net.add("fc", module, str(self))
        net.activate(i)


@token(r"d(\d*\.?\d+)", "d<p>")
@dataclass(frozen=True)
class Dropout(Token):
    p: float

    def __str__(self) -> str:
        return f"d{self.p!r}"

    @classmethod
    def parse(cls, m: re.Match) -> Dropout:
        return cls(float(m[1]))

    def check(self) -> str | None:
        return None if 0 <= self.p < 1 else "dropout probability must be in [0, 1)"

    def build(self, net: Assembly, i: int) -> None:
        net.add("drop", nn.Dropout(self.p), str(self))


@token(r"bn", "bn")
@dataclass(frozen=True)
class BatchNorm(Token):
    def __str__(self) -> str:
        return "bn"

    @classmethod
    def parse(cls, m: re.Match) -> BatchNorm:
        return cls()

    def build(self, net: Assembly, i: int) -> None:
        if i == 0 or not net.layers[i - 1].normalizable:
            raise UserError(f"{net.where(i)}: batch norm must follow a convolution or fully connected layer")
        net.add("bn", nn.BatchNorm2d(net.channels) if net.features is None else nn.BatchNorm1d(net.features), "bn")
        net.add("act", ACTIVATIONS[net.activation](), net.activation)


@token(r"o(\d+)", "o<classes>")
@dataclass(frozen=True)
class Output(Token):
    units: int

    def __str__(self) -> str:
        return f"o{self.units}"

    @classmethod
    def parse(cls, m: re.Match) -> Output:
        return cls(int(m[1]))

    def check(self) -> str | None:
        return "needs at least 1 unit" if self.units < 1 else None

    def build(self, net: Assembly, i: int) -> None:
        """The builder adds the output layer itself: an explicit one only has to agree with the data."""
        n_classes = net.n_classes
        if self.units != n_classes:
            raise UserError(f"{net.where(i)}: the output layer has {self.units} units but the data has {n_classes} "
                            f"classes; the loss would be meaningless, use o{n_classes} or leave it out")
