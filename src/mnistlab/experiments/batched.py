"""Train many fully connected models at once: one batched program steps them all.

A sweep of small FFNs on a CPU is bound by per-step Python and kernel-launch
overhead, not arithmetic. Stacking K models' weights into (K, in, out) tensors
turns K forward/backward passes into one `bmm` chain per step. Models of one
depth but different widths are zero-padded to the widest; a mask zeroes the
padded units, so their weights get exactly zero gradient and never move (true
for SGD, RMSprop and Adam without weight decay). Every model keeps its own
parameter tensors and its own optimizer parameter group (own optimizer, own
learning rate); the batch order, initial weights and loss are those `fit` uses,
so each model follows the trajectory `fit` would give it (tests check this).
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict

import torch
from torch import nn
from torch.nn import functional as F

from ..data.splits import Splits
from ..errors import UserError
from ..models import ACTIVATIONS, Net
from ..train.config import TrainConfig
from ..train.device import resolve_device
from ..train.optim import default_loss, make_optimizer
from ..train.run import Run

PER_SAMPLE_LOSSES = {"nll": F.nll_loss, "ce": F.cross_entropy}
HEAD_FUNCTIONS = {"logits": lambda z: z, "log_softmax": lambda z: torch.log_softmax(z, -1),
                  "softmax": lambda z: torch.softmax(z, -1)}


def linear_layers(model: Net) -> list[nn.Linear]:
    """The model's linear layers, refusing anything a stacked MLP cannot express."""
    allowed = (nn.Linear, nn.Flatten, nn.LogSoftmax, nn.Softmax, *ACTIVATIONS.values())
    if not all(isinstance(m, allowed) for m in model):
        raise UserError(f"model '{model.config.spec}': batched training takes fully connected models only")
    return [m for m in model if isinstance(m, nn.Linear)]


class Stack:
    """K same-depth MLPs as padded per-model weight tensors (in, out) and biases (out,)."""

    def __init__(self, models: list[Net], device: torch.device):
        layers = [linear_layers(m) for m in models]
        self.depth = len(layers[0])
        cfg = models[0].config
        if any(len(ls) != self.depth for ls in layers) or any(
                (m.config.activation, m.config.head) != (cfg.activation, cfg.head) for m in models):
            raise UserError("batched training needs models of one depth, activation and head")
        self.activation, self.head = ACTIVATIONS[cfg.activation](), HEAD_FUNCTIONS[cfg.head]
        self.widths = [max(ls[i].out_features for ls in layers) for i in range(self.depth)]
        ins = [layers[0][0].in_features, *self.widths[:-1]]
        self.weights, self.biases, masks = [], [], []
        for ls in layers:
            ws, bs = [], []
            for i, layer in enumerate(ls):
                w = torch.zeros(ins[i], self.widths[i], device=device)
                w[: layer.in_features, : layer.out_features] = layer.weight.detach().T
                b = torch.zeros(self.widths[i], device=device)
                b[: layer.out_features] = layer.bias.detach()
                ws.append(w.requires_grad_()), bs.append(b.requires_grad_())
            self.weights.append(ws), self.biases.append(bs)
        for i in range(self.depth - 1):
            sizes = torch.tensor([ls[i].out_features for ls in layers], device=device)
            padded = bool((sizes < self.widths[i]).any())
            masks.append((torch.arange(self.widths[i], device=device) < sizes[:, None]).float()[:, None, :] if padded else None)
        self.masks = masks

    def parameters(self, k: int) -> list[torch.Tensor]:
        return [*self.weights[k], *self.biases[k]]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, features) shared by all models → outputs (K, B, classes)."""
        h = x.flatten(1)
        for i in range(self.depth):
            w = torch.stack([ws[i] for ws in self.weights])
            b = torch.stack([bs[i] for bs in self.biases])[:, None, :]
            h = torch.matmul(h, w) + b if h.dim() == 2 else torch.baddbmm(b, h, w)
            if i < self.depth - 1:
                h = self.activation(h)
                if self.masks[i] is not None:
                    h = h * self.masks[i]
        return self.head(h)

    def copy_into(self, models: list[Net]) -> None:
        with torch.no_grad():
            for k, model in enumerate(models):
                for i, layer in enumerate(linear_layers(model)):
                    layer.weight.copy_(self.weights[k][i][: layer.in_features, : layer.out_features].T)
                    layer.bias.copy_(self.biases[k][i][: layer.out_features])


def per_model_losses(loss: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(K, B) losses of outputs (K, B, C) against labels (B,)."""
    k, b, c = out.shape
    return PER_SAMPLE_LOSSES[loss](out.float().reshape(k * b, c), y.repeat(k), reduction="none").view(k, b)


@torch.no_grad()
def evaluate_all(stack: Stack, loss: str, x: torch.Tensor, y: torch.Tensor, batch_size: int = 10_000):
    """Mean loss and accuracy of every model over (x, y): two lists of K floats."""
    losses, correct = [], []
    for i in range(0, len(y), batch_size):
        out = stack(x[i:i + batch_size])
        losses.append(per_model_losses(loss, out, y[i:i + batch_size]).sum(1))
        correct.append((out.argmax(-1) == y[i:i + batch_size]).sum(1))
    n = len(y)
    return (torch.stack(losses).sum(0) / n).tolist(), (torch.stack(correct).sum(0).float() / n).tolist()


def finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def fit_many(models: list[Net], data: Splits, optimizers: list[tuple[str, float]], *, epochs: int,
             batch_size: int, drop_last: bool = False, seed: int = 0, device: str = "auto") -> list[Run]:
    """Train `models` (FFNs of one depth, activation and head) together; model k uses `optimizers[k]` = (name, lr).

    Returns one Run per model, as `fit` would, with `train["batched"]` = K. A model
    whose loss stops being finite is marked `diverged` (its losses become None, its
    accuracy is whatever its NaN outputs give); the others are unaffected.
    """
    if len(optimizers) != len(models):
        raise UserError(f"{len(models)} models but {len(optimizers)} optimizer settings")
    dev = resolve_device(device)
    data = data.to(dev)
    stack = Stack(models, dev)
    loss_name = default_loss(models[0].config.head)
    groups: dict[str, torch.optim.Optimizer] = {}
    for k, (name, lr) in enumerate(optimizers):
        group = {"params": stack.parameters(k), "lr": lr}
        if name in groups:
            groups[name].add_param_group(group)
        else:
            groups[name] = make_optimizer(name, group["params"], lr)
    n, bs, K = len(data.y_train), batch_size, len(models)
    steps = n // bs if drop_last and n >= bs else math.ceil(n / bs)
    seen = min(n, steps * bs)
    order = torch.Generator().manual_seed(seed)
    histories: list[list[dict]] = [[] for _ in models]
    diverged = [False] * K
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        perm = torch.randperm(n, generator=order).to(dev)
        loss_sum = torch.zeros(K, device=dev)
        correct = torch.zeros(K, device=dev, dtype=torch.int64)
        for i in range(0, seen, bs):
            idx = perm[i:i + bs]
            xb, yb = data.x_train[idx], data.y_train[idx]
            out = stack(xb)
            losses = per_model_losses(loss_name, out, yb).mean(1)
            for optimizer in groups.values():
                optimizer.zero_grad(set_to_none=True)
            losses.sum().backward()
            for optimizer in groups.values():
                optimizer.step()
            loss_sum += losses.detach() * len(idx)
            correct += (out.detach().argmax(-1) == yb).sum(1)
        seconds = time.perf_counter() - start
        eval_start = time.perf_counter()
        tests = evaluate_all(stack, loss_name, data.x_test, data.y_test)
        vals = evaluate_all(stack, loss_name, data.x_val, data.y_val) if data.x_val is not None else None
        eval_seconds = time.perf_counter() - eval_start
        for k in range(K):
            train_loss = float(loss_sum[k]) / seen
            diverged[k] = diverged[k] or not math.isfinite(train_loss)
            row = {"epoch": epoch, "train_loss": finite_or_none(train_loss),
                   "train_accuracy": float(correct[k]) / seen,
                   "val_loss": None if vals is None else finite_or_none(vals[0][k]),
                   "val_accuracy": None if vals is None else vals[1][k],
                   "test_loss": finite_or_none(tests[0][k]), "test_accuracy": tests[1][k],
                   "seconds": seconds, "eval_seconds": eval_seconds}
            histories[k].append(row)
    stack.copy_into(models)
    runs = []
    for k, model in enumerate(models):
        name, lr = optimizers[k]
        cfg = TrainConfig(epochs=epochs, batch_size=batch_size, optimizer=name, lr=lr, seed=seed, device=dev.type,
                          precision="fp32", channels_last=False, drop_last=drop_last)
        train = {**asdict(cfg), "loss": loss_name, "batched": K, "diverged": diverged[k]}
        runs.append(Run(model.to(dev).eval(), data.normalizer, train, dict(data.info), histories[k], tuple(data.classes)))
    return runs
