"""Train many fully connected models at once: one program steps them all, through the training engine.

A sweep of small FFNs on a CPU is bound by per-step overhead and, for wide layers, arithmetic. Stacking K
models into one forward pass turns K passes into one chain of matrix products per step, without padding: the
first layer of every model reads the same input, so all K first layers are one product with their weights
side by side (x @ [W1 | W2 | ...]); later layers of one shape are one batched product (bmm), and layers whose
shapes differ run as K small products. Every model keeps its own parameter tensors and its own optimizer
parameter group (own optimizer, own learning rate); batch order, initial weights and loss are those `fit` uses,
so each model follows the trajectory `fit` would give it (tests check this).
"""
from __future__ import annotations

import math
from dataclasses import asdict

import torch
from torch import nn
from torch.nn import functional as F

from ..data.splits import Splits
from ..errors import UserError
from ..models import ACTIVATIONS, Net
from .config import TrainConfig
from .device import Stopwatch, resolve_device
from .engine import BatchSource, Engine, StepPlan, StepSpec, train
from .optim import default_loss, make_optimizer
from .run import Run

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
    """K same-depth MLPs as per-model weight tensors (in, out) and biases (out,), stepped as one program."""

    def __init__(self, models: list[Net], device: torch.device):
        layers = [linear_layers(m) for m in models]
        self.depth = len(layers[0])
        cfg = models[0].config
        if any(len(ls) != self.depth for ls in layers) or any(
                (m.config.activation, m.config.head) != (cfg.activation, cfg.head) for m in models):
            raise UserError("batched training needs models of one depth, activation and head")
        self.activation, self.head = ACTIVATIONS[cfg.activation](), HEAD_FUNCTIONS[cfg.head]
        self.weights = [[layer.weight.detach().T.contiguous().to(device).requires_grad_() for layer in ls] for ls in layers]
        self.biases = [[layer.bias.detach().clone().to(device).requires_grad_() for layer in ls] for ls in layers]
        self.widths = [[ls[i].out_features for ls in layers] for i in range(self.depth)]
        self.same_shape = [len({(ls[i].in_features, ls[i].out_features) for ls in layers}) == 1 for i in range(self.depth)]

    def parameters(self, k: int) -> list[torch.Tensor]:
        return [*self.weights[k], *self.biases[k]]

    def _layer(self, i: int, h: torch.Tensor | list[torch.Tensor]) -> torch.Tensor | list[torch.Tensor]:
        """Layer i of every model: h is the shared input (B, in), the stacked (K, B, in) or a list of (B, in_k)."""
        ws, bs = [w[i] for w in self.weights], [b[i] for b in self.biases]
        if isinstance(h, torch.Tensor) and h.dim() == 2:  # the shared input: one product for all K
            if self.same_shape[i]:
                return torch.matmul(h, torch.stack(ws)) + torch.stack(bs)[:, None, :]
            return list(torch.addmm(torch.cat(bs), h, torch.cat(ws, 1)).split(self.widths[i], dim=1))
        if self.same_shape[i]:
            return torch.baddbmm(torch.stack(bs)[:, None, :], torch.stack(list(h)), torch.stack(ws))
        return [torch.addmm(b, hk, w) for hk, w, b in zip(h, ws, bs)]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, ...) shared by all models → outputs (K, B, classes)."""
        h = x.flatten(1)
        for i in range(self.depth):
            h = self._layer(i, h)
            if i < self.depth - 1:
                h = self.activation(h) if isinstance(h, torch.Tensor) else [self.activation(t) for t in h]
        return self.head(h if isinstance(h, torch.Tensor) else torch.stack(h))

    def copy_into(self, models: list[Net]) -> None:
        with torch.no_grad():
            for k, model in enumerate(models):
                for i, layer in enumerate(linear_layers(model)):
                    layer.weight.copy_(self.weights[k][i].T)
                    layer.bias.copy_(self.biases[k][i])


def per_model_losses(loss: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(K, B) losses of outputs (K, B, C) against labels (B,)."""
    k, b, c = out.shape
    return PER_SAMPLE_LOSSES[loss](out.float().reshape(k * b, c), y.repeat(k), reduction="none").view(k, b)


def finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def fit_many(models: list[Net], data: Splits, optimizers: list[tuple[str, float]], *, epochs: int,
             batch_size: int, drop_last: bool = False, seed: int = 0, device: str = "auto", capture: str = "auto",
             on_epoch=None) -> list[Run]:
    """Train `models` (FFNs of one depth, activation and head) together; model k uses `optimizers[k]` = (name, lr).

    Returns one Run per model, as `fit` would, with `train["batched"]` = K. A model whose loss stops being
    finite is marked `diverged` (its losses become None, its accuracy is whatever its NaN outputs give); the
    others are unaffected. `on_epoch(epoch, epochs)` is called after each epoch (progress).
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
            groups[name] = make_optimizer(name, group["params"], lr, lean=True)
    K = len(models)
    plan = StepPlan.of(len(data.y_train), batch_size, epochs, drop_last)
    losses = lambda out, y: per_model_losses(loss_name, out, y).mean(1)  # noqa: E731
    engine = Engine(stack, [], list(groups.values()), BatchSource(data.x_train, data.y_train, plan, seed),
                    StepSpec(loss=losses, capture=capture, models=K))
    tests = engine.evaluator(stack, losses, data.x_test, data.y_test)
    vals = engine.evaluator(stack, losses, data.x_val, data.y_val) if data.x_val is not None else None

    def evaluate(epoch: float, step: int, epoch_end: bool) -> dict:
        loss, acc = tests()
        val_loss, val_acc = vals() if vals is not None else (None, None)
        return {"test": (loss.tolist(), acc.tolist()), "val": None if vals is None else (val_loss.tolist(), val_acc.tolist())}

    progress = (lambda row: on_epoch(row["epoch"], plan.epochs)) if on_epoch is not None else None
    rows = train(engine, evaluate, Stopwatch(dev), on_epoch=progress)
    stack.copy_into(models)
    runs = []
    for k, model in enumerate(models):
        name, lr = optimizers[k]
        history = [{"epoch": r["epoch"], "train_loss": finite_or_none(r["train_loss"][k]),
                    "train_accuracy": r["train_accuracy"][k],
                    "val_loss": None if r["evals"]["val"] is None else finite_or_none(r["evals"]["val"][0][k]),
                    "val_accuracy": None if r["evals"]["val"] is None else r["evals"]["val"][1][k],
                    "test_loss": finite_or_none(r["evals"]["test"][0][k]), "test_accuracy": r["evals"]["test"][1][k],
                    "seconds": r["seconds"], "eval_seconds": r["eval_seconds"]} for r in rows]
        cfg = TrainConfig(epochs=epochs, batch_size=batch_size, optimizer=name, lr=lr, seed=seed, device=dev.type,
                          precision="fp32", channels_last=False, drop_last=drop_last, capture=capture)
        train_record = {**asdict(cfg), "loss": loss_name, "batched": K,
                        "diverged": any(not math.isfinite(r["train_loss"][k]) for r in rows),
                        "capture": engine.capture_note, "capture_s": round(engine.capture_s, 4)}
        runs.append(Run(model.to(dev).eval(), data.normalizer, train_record, dict(data.info), history, tuple(data.classes)))
    return runs
