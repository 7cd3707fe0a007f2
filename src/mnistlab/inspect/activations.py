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


def _activated(outputs: list[tuple[str, torch.Tensor]], i: int) -> torch.Tensor:
    """The output of layer `i` after the batch norm and activation that follow it: the maps a reader expects."""
    while i + 1 < len(outputs) and outputs[i + 1][0].startswith(("bn", "act")):
        i += 1
    return outputs[i][1]


def hidden_layers(model: Net, x: torch.Tensor) -> list[dict]:
    """Each conv and hidden fully connected layer: name, token, kind, weights and activated outputs as NumPy.

    conv: weight (out, in, k, k), output (N, C, H, W); fc: weight (units, inputs), output (N, units).
    The output layer is left out: its outputs are the class scores.
    """
    rows = {row["name"]: row for row in model.rows}
    outputs = layer_outputs(model, x)
    layers = []
    for i, (name, _) in enumerate(outputs):
        module = model.get_submodule(name)
        if isinstance(module, (nn.Conv2d, nn.Linear)) and name != "output":
            layers.append({"name": name, "token": rows[name]["token"], "kind": "conv" if isinstance(module, nn.Conv2d) else "fc",
                           "output_shape": list(rows[name]["output_shape"]),
                           "weight": module.weight.detach().float().cpu().numpy(),
                           "output": _activated(outputs, i).float().cpu().numpy()})
    return layers


def conv_feature_maps(model: Net, x: torch.Tensor) -> list[dict]:
    """For each conv layer: its name, token and the activated maps (N, C, H, W) as NumPy."""
    return [{"name": layer["name"], "token": layer["token"], "maps": layer["output"]}
            for layer in hidden_layers(model, x) if layer["kind"] == "conv"]


def first_layer_weights(model: Net, rgb: bool = False) -> np.ndarray:
    """First conv layer's filters (out, k, k) averaged over input channels, or first FC weights as images (units, H, W).

    With `rgb`, a first layer that sees three channels keeps them: (out, 3, k, k) or (units, 3, H, W), to draw as colour.
    """
    for module in model:
        if isinstance(module, nn.Conv2d):
            w = module.weight.detach().float().cpu().numpy()
            return w if rgb and w.shape[1] == 3 else w.mean(1)
        if isinstance(module, nn.Linear):
            c, h, w = model.image_shape
            weights = module.weight.detach().float().cpu().numpy().reshape(-1, c, h, w)
            return weights if rgb and c == 3 else weights.mean(1)
    raise ValueError("the model has no weight layer")


def feature_maps(run, image: np.ndarray) -> dict:
    """The numbers behind the `featuremaps` figure for one raw-pixel image (H, W), or (C, H, W) for colour.

    Every conv layer's filters and activated outputs (FFN: every hidden layer's
    activations), the class probabilities, and the prediction.
    """
    layers = hidden_layers(run.model, run.prepare(np.asarray(image)[None]))
    for layer in layers:
        layer["output"] = layer["output"][0]
    _, probs = run.predict(np.asarray(image)[None])
    return {"image": np.asarray(image), "layers": layers, "probs": probs[0], "predicted": int(probs[0].argmax()),
            "classes": run.classes}
