"""Optimizers, schedules and losses by name."""
from __future__ import annotations

import torch
from torch import nn

from ..errors import UserError

OPTIMIZERS = {name.lower(): cls for name, cls in vars(torch.optim).items()
              if isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer) and cls is not torch.optim.Optimizer}
SCHEDULES = ("none", "onecycle", "step", "cosine")
LOSSES = ("ce", "nll", "mse")


def make_optimizer(name: str, params, lr: float, **kwargs) -> torch.optim.Optimizer:
    cls = OPTIMIZERS.get(name.lower())
    if cls is None:
        raise UserError(f"unknown optimizer {name!r}; choose a torch.optim optimizer: {', '.join(sorted(OPTIMIZERS))}")
    return cls(params, lr=lr, **kwargs)


def make_schedule(name: str | None, optimizer: torch.optim.Optimizer, lr: float, epochs: int,
                  steps_per_epoch: int, gamma: float = 0.7, total_steps: int | None = None):
    """Return (scheduler or None, steps it per batch?). `step` decays by `gamma` every epoch.

    Per-batch schedules span `total_steps` (default: every step of every epoch).
    """
    total_steps = total_steps or epochs * steps_per_epoch
    name = (name or "none").lower()
    if name == "none":
        return None, False
    if name == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=total_steps,
                                                   cycle_momentum=False), True
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps), True
    if name == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=gamma), False
    raise UserError(f"unknown schedule {name!r}; choose one of: {', '.join(SCHEDULES)}")


def default_loss(head: str) -> str:
    """Cross entropy on logits; NLL on (log-)probability heads, as the lectures pair them."""
    return "ce" if head == "logits" else "nll"


def make_loss(name: str, n_classes: int):
    """A function (outputs, targets) -> mean loss. `mse` compares outputs with one-hot targets."""
    if name == "ce":
        return nn.CrossEntropyLoss()
    if name == "nll":
        return nn.NLLLoss()
    if name == "mse":
        mse = nn.MSELoss()
        return lambda out, y: mse(out, nn.functional.one_hot(y, n_classes).to(out.dtype))
    raise UserError(f"unknown loss {name!r}; choose one of: {', '.join(LOSSES)}")
