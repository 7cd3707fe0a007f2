"""K networks of one layer skeleton held as stacked parameters and run as one forward pass.

Every weight layer is one leaf tensor for all K models: a fully connected layer is (K, in, out) with bias
(K, 1, out), a convolution (K, out, in, kh, kw) with bias (K, out). Layers of different widths are padded
with zeros to the widest; a padded unit stays exactly zero through training (its weights get zero gradients
because its output is zero and so is everything it feeds), which needs an activation with f(0) = 0 such as
ReLU, and otherwise a mask on the activation (one multiply per layer).

Activations travel in one of three layouts: the shared input (B, C, H, W) or (B, F) that every model reads;
per-model images (B, K, C, H, W), when each model draws its own batch; and grouped maps (B, K*C, H, W),
after the first convolution. Convolutions of K models are one grouped convolution (the first one, on a
shared input, an ordinary convolution with the K filter banks side by side); fully connected layers are one
batched product (K, B, in) @ (K, in, out).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import UserError
from ..models import ACTIVATIONS, Net
from ..models.assembly import CropBorder

HEADS = {nn.LogSoftmax: lambda z: torch.log_softmax(z, -1), nn.Softmax: lambda z: torch.softmax(z, -1)}
POOLS = (nn.MaxPool2d, nn.AvgPool2d)


def skeleton(model: Net) -> list[tuple]:
    """The model as a list of steps that K models can share; widths of fully connected layers are left out
    (they may differ and are padded). Refuses layers a stacked program cannot express exactly."""
    steps = []
    for name, m in model.named_children():
        if isinstance(m, nn.Conv2d):
            steps.append(("conv", m.out_channels, m.in_channels, m.kernel_size, m.stride, m.padding))
        elif isinstance(m, nn.Linear):
            steps.append(("linear",))
        elif isinstance(m, CropBorder):
            steps.append(("crop", m.pixels))
        elif isinstance(m, POOLS):
            steps.append(("pool", type(m).__name__, m.kernel_size, m.stride))
        elif isinstance(m, nn.Flatten):
            steps.append(("flatten",))
        elif isinstance(m, tuple(ACTIVATIONS.values())):
            steps.append(("act",))
        elif isinstance(m, tuple(HEADS)):
            steps.append(("head", type(m).__name__))
        else:
            raise UserError(f"model '{model.config.spec}': layer {name} ({type(m).__name__}) cannot be trained "
                            f"stacked with other models (batch norm and dropout cannot); train it with fit")
    return steps


def check_stackable(models: list[Net]) -> None:
    """Refuse models that cannot share one stacked program, saying what differs."""
    first = models[0]
    steps = skeleton(first)
    for m in models[1:]:
        if (m.config.activation, m.config.head, m.config.input_shape) != (first.config.activation, first.config.head,
                                                                          first.config.input_shape):
            raise UserError("batched training needs models of one activation, head and input shape")
        if skeleton(m) != steps:
            raise UserError(f"batched training needs models of one depth and layer kinds (fully connected widths may "
                            f"differ): '{m.config.spec}' differs from '{first.config.spec}'")


def weight_layers(model: Net) -> list[nn.Conv2d | nn.Linear]:
    return [m for m in model if isinstance(m, (nn.Conv2d, nn.Linear))]


def as_grouped(h: torch.Tensor) -> torch.Tensor:
    """Per-model images (B, K, C, H, W) as grouped maps (B, K*C, H, W); other layouts as they are."""
    return h.flatten(1, 2) if h.dim() == 5 else h


class Stack:
    """K models of one skeleton (see `check_stackable`) as stacked leaf tensors; call it on a batch."""

    def __init__(self, models: list[Net], device: torch.device):
        check_stackable(models)
        self.k, self.steps = len(models), skeleton(models[0])
        self.activation = ACTIVATIONS[models[0].config.activation]()
        self.weights, self.biases, self.masks = [], [], []
        linears = [[m for m in weight_layers(model) if isinstance(m, nn.Linear)] for model in models]
        for i, layer in enumerate(weight_layers(models[0])):
            layers = [weight_layers(model)[i] for model in models]
            if isinstance(layer, nn.Conv2d):
                weight = torch.stack([m.weight.detach() for m in layers])
                bias = torch.stack([m.bias.detach() for m in layers])
            else:
                weight, bias = self._padded(layers)
            self.weights.append(weight.to(device).requires_grad_())
            self.biases.append(bias.to(device).requires_grad_())
        zero_safe = float(self.activation(torch.zeros(1))) == 0.0
        for i in range(len(linears[0]) - 1):  # hidden layers only: every model has the same number of outputs
            widths = torch.tensor([ls[i].out_features for ls in linears], device=device)
            padded = bool((widths < widths.max()).any())
            self.masks.append(None if zero_safe or not padded else
                              (torch.arange(int(widths.max()), device=device) < widths[:, None])[:, None, :].float())

    @staticmethod
    def _padded(layers: list[nn.Linear]) -> tuple[torch.Tensor, torch.Tensor]:
        """(K, in, out) weights and (K, 1, out) biases, zero beyond each model's own width."""
        fan_in, fan_out = max(m.in_features for m in layers), max(m.out_features for m in layers)
        weight = torch.zeros(len(layers), fan_in, fan_out)
        bias = torch.zeros(len(layers), 1, fan_out)
        for k, m in enumerate(layers):
            weight[k, :m.in_features, :m.out_features] = m.weight.detach().T
            bias[k, 0, :m.out_features] = m.bias.detach()
        return weight, bias

    def parameters(self) -> list[torch.Tensor]:
        return [*self.weights, *self.biases]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """x: a shared batch (B, C, H, W) or per-model batches (B, K, C, H, W) → outputs (K, B, classes)."""
        h, layer, hidden = x, 0, 0
        for step in self.steps:
            kind = step[0]
            if kind == "crop":
                p = step[1]
                h = h[..., p:-p, p:-p]
            elif kind == "conv":
                h = self._conv(h, layer, step)
                layer += 1
            elif kind == "pool":
                pool = F.max_pool2d if step[1] == "MaxPool2d" else F.avg_pool2d
                h = pool(as_grouped(h), step[2], step[3])
            elif kind == "flatten":
                h = self._flatten(h)
            elif kind == "linear":
                w, b = self.weights[layer], self.biases[layer]
                h = torch.baddbmm(b, h.expand(self.k, *h.shape) if h.dim() == 2 else h, w)
                layer += 1
            elif kind == "act":
                h = self.activation(h)
                if h.dim() == 3 and hidden < len(self.masks):  # after a hidden fully connected layer
                    if self.masks[hidden] is not None:
                        h = h * self.masks[hidden]
                    hidden += 1
            else:
                h = HEADS[getattr(nn, step[1])](h)
        return h

    def _conv(self, h: torch.Tensor, i: int, step: tuple) -> torch.Tensor:
        _, out, fan_in, kernel, stride, padding = step
        weight, bias = self.weights[i], self.biases[i]
        if h.dim() == 4 and h.shape[1] == fan_in:  # the shared input: the K filter banks side by side
            return F.conv2d(h, weight.view(self.k * out, fan_in, *kernel), bias.view(-1), stride, padding)
        return F.conv2d(as_grouped(h), weight.view(self.k * out, fan_in, *kernel), bias.view(-1), stride, padding,
                        groups=self.k)

    def _flatten(self, h: torch.Tensor) -> torch.Tensor:
        """Features per model (K, B, F), in the order a single model's Flatten gives; a shared input stays (B, F)."""
        if h.dim() == 5:
            return h.flatten(2).transpose(0, 1)
        if not any(s[0] == "conv" for s in self.steps):  # the shared input image of an FFN
            return h.flatten(1)
        return h.view(h.shape[0], self.k, -1).transpose(0, 1)

    def copy_into(self, models: list[Net]) -> None:
        """Write each model's slice of the stacked weights back into its own layers."""
        with torch.no_grad():
            for k, model in enumerate(models):
                for layer, w, b in zip(weight_layers(model), self.weights, self.biases):
                    if isinstance(layer, nn.Conv2d):
                        layer.weight.copy_(w[k])
                        layer.bias.copy_(b[k])
                    else:
                        layer.weight.copy_(w[k, :layer.in_features, :layer.out_features].T)
                        layer.bias.copy_(b[k, 0, :layer.out_features])
