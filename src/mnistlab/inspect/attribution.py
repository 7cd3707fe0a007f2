"""Why a model decides what it decides: pixel attribution maps and, for FFNs, the first-layer units behind a logit.

Pixel maps, for one class of one prepared input (the model's normalized input, so every
normalization works, binary included):
- saliency: |d score / d pixel|, where a small change would move the class score most;
- integrated gradients: (x - baseline) times the gradient averaged on the straight path from a
  black image to x; the maps sum to score(x) - score(baseline) (completeness), so they split the
  score among the pixels;
- occlusion: how much the class probability drops when a small black patch covers each pixel.
The score is the class logit (the network's output before a softmax or log-softmax head):
probabilities saturate, and their gradients vanish exactly where the model is sure.
Our own implementation (about 80 lines) rather than Captum: these three methods on an
nn.Sequential need nothing Captum adds, and the package keeps one dependency fewer.

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
from .predictions import mistakes, sample_indices


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
    channels, height, width = model.image_shape  # colour: the unit's weights averaged over the channels
    weights = modules[first][1].weight.detach().float().cpu().numpy().reshape(-1, channels, height, width).mean(1)
    order = np.argsort(-contribution, kind="stable")[:k]
    return [{"unit": int(j), "activation": float(activation[j]), "contribution": float(contribution[j]),
             "weights": weights[j]} for j in order]


IG_STEPS = 128  # trapezoid steps on the path; completeness within 1% on the grammar's networks
OCCLUSION_PATCH, OCCLUSION_STRIDE = 4, 2


def class_scores(model: Net) -> nn.Module:
    """The network without its softmax or log-softmax head: class logits for any head."""
    return nn.Sequential(*(m for name, m in model.named_children() if name != "head"))


class _Eval:
    """Eval mode for the block (batch norm uses its running statistics, dropout is off), then back."""

    def __init__(self, model: nn.Module):
        self.model, self.was_training = model, model.training

    def __enter__(self):
        self.model.eval()

    def __exit__(self, *exc):
        self.model.train(self.was_training)


def _gradients(scores: nn.Module, x: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's target score and its gradient with respect to that row of `x`."""
    with torch.enable_grad():
        x = x.detach().float().requires_grad_(True)
        chosen = scores(x).float().gather(1, targets[:, None])[:, 0]
        (grad,) = torch.autograd.grad(chosen.sum(), x)
    return chosen.detach(), grad


def _as_maps(a: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) → (N, H, W): channels summed (MNIST has one)."""
    return a.sum(1).detach().cpu().numpy()


def saliency(model: Net, x: torch.Tensor, targets) -> np.ndarray:
    """|gradient of each target's class score| per input pixel, (N, H, W)."""
    targets = torch.as_tensor(targets, device=x.device)
    with _Eval(model):
        _, grad = _gradients(class_scores(model), x, targets)
    return _as_maps(grad.abs())


def integrated_gradients(model: Net, x: torch.Tensor, targets, baseline: torch.Tensor, steps: int = IG_STEPS) -> dict:
    """Integrated gradients from `baseline` (one prepared image, (1, C, H, W)) to each row of `x`.

    Returns the maps (N, H, W), each row's score at x and at the baseline, and the completeness
    gap: sum of the map minus the score difference (zero for the exact integral).
    """
    targets = torch.as_tensor(targets, device=x.device)
    scores = class_scores(model)
    weights = torch.full((steps + 1,), 1.0 / steps, device=x.device)
    weights[[0, -1]] /= 2  # trapezoid rule
    alphas = torch.linspace(0, 1, steps + 1, device=x.device)
    maps, at_x, at_base = [], [], []
    with _Eval(model):
        for row, target in zip(x, targets):
            path = baseline + alphas[:, None, None, None] * (row[None] - baseline)
            chosen, grad = _gradients(scores, path, target.repeat(steps + 1))
            maps.append((row - baseline[0]) * (weights[:, None, None, None] * grad).sum(0))
            at_base.append(float(chosen[0]))
            at_x.append(float(chosen[-1]))
    maps = _as_maps(torch.stack(maps)) if maps else np.zeros((0, *x.shape[2:]))
    at_x, at_base = np.asarray(at_x), np.asarray(at_base)
    return {"maps": maps, "score": at_x, "baseline_score": at_base, "gap": maps.sum((1, 2)) - (at_x - at_base)}


@torch.inference_mode()
def occlusion(model: Net, x: torch.Tensor, targets, baseline: torch.Tensor, patch: int = OCCLUSION_PATCH,
              stride: int = OCCLUSION_STRIDE) -> np.ndarray:
    """Drop of each target's probability when a `patch`-square of `baseline` covers the pixel, averaged over the
    patches that cover it, (N, H, W): positive where hiding the pixel costs the class."""
    scores = class_scores(model)
    _, _, height, width = x.shape
    corners = [(r, c) for r in range(0, height - patch + 1, stride) for c in range(0, width - patch + 1, stride)]
    cover = torch.zeros(height, width, device=x.device)
    for r, c in corners:
        cover[r:r + patch, c:c + patch] += 1
    maps = []
    with _Eval(model):
        for row, target in zip(x, torch.as_tensor(targets, device=x.device)):
            hidden = row[None].repeat(len(corners), 1, 1, 1)
            for k, (r, c) in enumerate(corners):
                hidden[k, :, r:r + patch, c:c + patch] = baseline[0, :, r:r + patch, c:c + patch]
            p = torch.softmax(scores(torch.cat([row[None], hidden])).float(), 1)[:, target]
            drop = torch.zeros(height, width, device=x.device)
            for k, (r, c) in enumerate(corners):
                drop[r:r + patch, c:c + patch] += p[0] - p[k + 1]
            maps.append(drop / cover.clamp(min=1))
    return torch.stack(maps).cpu().numpy() if maps else np.zeros((0, height, width))


def attribution_maps(run, images: np.ndarray, targets) -> dict:
    """Saliency, integrated gradients and occlusion for raw-pixel images (N, H, W) and one class each.

    The baseline of integrated gradients and the occlusion patches is a black image, MNIST's background.
    """
    x = run.prepare(images)
    baseline = run.prepare(np.zeros((1, *np.asarray(images).shape[1:]), np.uint8))
    ig = integrated_gradients(run.model, x, targets, baseline)
    return {"saliency": saliency(run.model, x, targets), "integrated_gradients": ig["maps"],
            "occlusion": occlusion(run.model, x, targets, baseline), "score": ig["score"],
            "baseline_score": ig["baseline_score"], "completeness_gap": ig["gap"]}


def attributions(run, pred, sample: list[int] | None = None, n: int = 6, seed: int = 0) -> dict:
    """The numbers behind the `attribution` figure: maps of the predicted class for `n` test digits (random, or the
    `sample` indices) and for the `n` most confident mistakes. Per group: indices, images, labels, predicted class,
    its probability, and the three maps."""
    groups = {}
    for group, idx in (("samples", sample_indices(len(pred.labels), n, sample, seed)), ("mistakes", mistakes(pred, n)["indices"])):
        predicted = pred.predicted[idx]
        groups[group] = {"indices": idx, "images": pred.images[idx], "labels": pred.labels[idx], "predicted": predicted,
                         "probability": pred.probs[idx, predicted],
                         **attribution_maps(run, pred.images[idx], predicted)}
    return {"groups": groups, "classes": pred.classes, "target": "predicted class", "score": "class logit",
            "baseline": "black image", "ig_steps": IG_STEPS, "occlusion_patch": OCCLUSION_PATCH,
            "occlusion_stride": OCCLUSION_STRIDE}


def top_class_attributions(run, image: np.ndarray, k: int = 2, steps: int = IG_STEPS) -> list[dict]:
    """Integrated-gradients maps of one raw-pixel image (H, W) for its `k` most probable classes: "why 7 and not 1?".

    Each: class index, its probability, and the map (H, W) that splits its logit's rise over a black image among the pixels.
    """
    _, probs = run.predict(np.asarray(image)[None])
    top = np.argsort(-probs[0], kind="stable")[:k]
    x = run.prepare(np.asarray(image)[None]).repeat(len(top), 1, 1, 1)
    ig = integrated_gradients(run.model, x, top, run.prepare(np.zeros((1, *np.asarray(image).shape), np.uint8)), steps)
    return [{"class": int(c), "probability": float(probs[0, c]), "map": m} for c, m in zip(top, ig["maps"])]
