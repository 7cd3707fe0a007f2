"""Which first-layer units of an FFN pushed a prediction, and by how much.

An FFN's first-layer weights are images; the ones worth showing for a drawing are
those whose units moved the predicted logit most. A unit's contribution is its
activation times the gradient of the logit with respect to it: for one hidden
layer that is exactly the unit's share of the logit (activation x outgoing
weight), for deeper networks its first-order estimate.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..models import Net


def responsible_units(model: Net, x: torch.Tensor, target: int, k: int = 8) -> list[dict]:
    """The k first-layer units with the largest contribution to logit `target` for one prepared input.

    Each: unit index, activation, contribution, and the unit's weights as an (H, W) image.
    Without a hidden layer the first layer is the output layer: its units are the classes,
    ranked by their logits.
    """
    modules = list(model.named_children())
    first = next((i for i, (_, m) in enumerate(modules) if isinstance(m, nn.Linear)), None)
    if first is None:
        raise ValueError("the model has no fully connected layer")
    last = first  # a unit's value as a reader sees it: after the activation (and batch norm) that follow
    while last + 1 < len(modules) and modules[last + 1][0].startswith(("bn", "act")):
        last += 1
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            h = x[:1].float()
            for _, module in modules[:last + 1]:
                h = module(h)
            h = h.detach().requires_grad_(modules[first][0] != "output")
            logits = h
            for name, module in modules[last + 1:]:
                if name == "head":
                    break  # softmax/log-softmax heads: attribute the logit, not the probability
                logits = module(logits)
            activation = h[0].detach().cpu().numpy()
            if h.requires_grad:
                grad = torch.autograd.grad(logits[0, target], h)[0][0].cpu().numpy()
                contribution = activation * grad
            else:
                contribution = activation
    finally:
        model.train(was_training)
    _, height, width = model.image_shape
    weights = modules[first][1].weight.detach().float().cpu().numpy().reshape(-1, height, width)
    order = np.argsort(-contribution, kind="stable")[:k]
    return [{"unit": int(j), "activation": float(activation[j]), "contribution": float(contribution[j]),
             "weights": weights[j]} for j in order]
