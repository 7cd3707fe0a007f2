"""What a model computes inside: every layer's output, conv feature maps, first-layer weights.

The numbers behind the filter and feature-map figures, the web app and notebooks.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..models import Net


@torch.inference_mode()
def layer_outputs(model: Net, x: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
    """(name, output) of every module, in order, for a prepared input batch (eval mode, fp32)."""
    was_training = model.training
    model.eval()
    outputs = []
    try:
        for name, module in model.named_children():
            x = module(x)
            outputs.append((name, x))
    finally:
        model.train(was_training)
    return outputs


def conv_feature_maps(model: Net, x: torch.Tensor) -> list[dict]:
    """For each conv layer: its name, token and the activated maps (N, C, H, W) as NumPy."""
    rows = {row["name"]: row for row in model.rows}
    outputs = layer_outputs(model, x)
    maps = []
    for i, (name, out) in enumerate(outputs):
        if isinstance(model.get_submodule(name), nn.Conv2d):
            # The maps a reader expects are after the activation (and batch norm) that follow the conv.
            j = i
            while j + 1 < len(outputs) and outputs[j + 1][0].startswith(("bn", "act")):
                j += 1
            maps.append({"name": name, "token": rows[name]["token"], "maps": outputs[j][1].float().cpu().numpy()})
    return maps


def first_layer_weights(model: Net) -> np.ndarray:
    """First conv layer's filters (out, k, k) averaged over input channels, or first FC weights as images (units, H, W)."""
    for module in model:
        if isinstance(module, nn.Conv2d):
            return module.weight.detach().float().mean(1).cpu().numpy()
        if isinstance(module, nn.Linear):
            _, h, w = model.config.input_shape
            return module.weight.detach().float().cpu().numpy().reshape(-1, h, w)
    raise ValueError("the model has no weight layer")
