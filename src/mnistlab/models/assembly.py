"""The network while a spec is built into torch modules: the shape so far, the modules and one summary row each.

Apart from the layer tokens (layers.py) so that parsing and checking a spec needs no torch.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from ..errors import UserError
from .layers import ACTIVATION_CLASSES, BatchNorm, Token

ACTIVATIONS = {name: getattr(nn, cls) for name, cls in ACTIVATION_CLASSES.items()}


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
        self.add("act", self.activation_module(), self.activation)

    def activation_module(self) -> nn.Module:
        return ACTIVATIONS[self.activation]()

    @staticmethod
    def crop(pixels: int) -> nn.Module:
        return CropBorder(pixels)

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
