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

Parsing and checking a spec needs no torch (the NumPy engine and the command line's help read specs without it); each
`build` imports torch.nn when a model is built.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from ..errors import UserError
from ..registry import add

if TYPE_CHECKING:
    from .assembly import Assembly

# the hidden-layer activations by name: torch.nn's class for each (models.ACTIVATIONS holds the classes)
ACTIVATION_CLASSES = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "linear": "Identity",
                      "gelu": "GELU", "elu": "ELU", "leaky_relu": "LeakyReLU", "silu": "SiLU"}
HEADS = ("logits", "log_softmax", "softmax")  # what the output layer gives: models.build makes each
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
        net.add("crop", net.crop(self.pixels), str(self))


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
        # torch: only building needs it, parsing and checking a spec do not
        from torch import nn

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
        # torch: only building needs it, parsing and checking a spec do not
        from torch import nn

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
        # torch: only building needs it, parsing and checking a spec do not
        from torch import nn

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
        # torch: only building needs it, parsing and checking a spec do not
        from torch import nn

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
        # torch: only building needs it, parsing and checking a spec do not
        from torch import nn

        if i == 0 or not net.layers[i - 1].normalizable:
            raise UserError(f"{net.where(i)}: batch norm must follow a convolution or fully connected layer")
        net.add("bn", nn.BatchNorm2d(net.channels) if net.features is None else nn.BatchNorm1d(net.features), "bn")
        net.add("act", net.activation_module(), net.activation)


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
