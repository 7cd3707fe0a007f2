"""Optimizers, schedules and losses by name."""
from __future__ import annotations

import inspect

import torch
from torch import nn

from ..errors import UserError, named
from .choices import LOSSES, SCHEDULES

# Every torch.optim optimizer that steps without a closure on any parameter shape and takes weight decay
# (LBFGS needs a closure, SparseAdam sparse gradients, Muon 2-D weights only).
OPTIMIZERS = {name.lower(): cls for name, cls in vars(torch.optim).items()
              if isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer) and cls is not torch.optim.Optimizer
              and "weight_decay" in inspect.signature(cls.__init__).parameters and name not in ("LBFGS", "Muon")}


def check_names(optimizer: str, schedule: str | None, loss: str | None) -> None:
    """Refuse unknown names before any data is loaded or any model is built."""
    if optimizer.lower() not in OPTIMIZERS:
        raise UserError(f"unknown optimizer {optimizer!r}; choose a torch.optim optimizer: {', '.join(sorted(OPTIMIZERS))}")
    if (schedule or "none").lower() not in SCHEDULES:
        raise UserError(f"unknown schedule {schedule!r}; choose one of: {', '.join(SCHEDULES)}")
    if loss is not None and loss not in LOSSES:
        raise UserError(f"unknown loss {loss!r}; choose one of: {', '.join(LOSSES)}")


# Optimizers with a fused kernel (one launch for every parameter, a device-tensor learning rate) and the devices
# torch has it for; the others step with foreach kernels (one launch per op for all parameters).
FUSED = {"adam": None, "adamw": None, "sgd": None, "adagrad": ("cpu",)}  # None: every device torch fuses on


def lean_kernels(name: str, params: list, options: dict) -> dict:
    """fused=True where torch has a fused kernel for these parameters, else foreach=True; nothing when the
    caller chose either."""
    if {"fused", "foreach", "differentiable"} & set(options) or not params:
        return {}
    first = params[0]["params"][0] if isinstance(params[0], dict) else params[0]
    devices = FUSED.get(name.lower(), ()) or _fused_devices()
    return {"fused": True} if name.lower() in FUSED and first.device.type in devices else {"foreach": True}


def _fused_devices() -> list[str]:
    # a private torch helper: asked only when an optimizer is fused
    from torch.utils._foreach_utils import _get_fused_kernels_supported_devices

    return _get_fused_kernels_supported_devices()


def make_optimizer(name: str, params, lr: float, *, lean: bool = False, **kwargs) -> torch.optim.Optimizer:
    """torch.optim's optimizer `name`; `lean` steps it with fused or foreach kernels (`lean_kernels`), as the
    engine does: the same update in a few launches instead of several per parameter."""
    check_names(name, None, None)
    params = list(params)
    extra = lean_kernels(name, params, kwargs) if lean else {}
    try:
        return OPTIMIZERS[name.lower()](params, lr=lr, **kwargs, **extra)
    except (TypeError, ValueError) as exc:  # e.g. an option this optimizer does not take
        raise UserError(f"optimizer {name!r} refused its options ({exc}); check {named('lr')}, {named('weight_decay')} "
                        f"and {named('optimizer_options')}") from None


def make_schedule(name: str | None, optimizer: torch.optim.Optimizer, lr: float, epochs: int,
                  steps_per_epoch: int, gamma: float = 0.7, total_steps: int | None = None, **options):
    """Return (scheduler or None, steps it per batch?). `step` decays by `gamma` every epoch.

    Per-batch schedules span `total_steps` (default: every step of every epoch). `options` go to the
    torch scheduler, e.g. pct_start and anneal_strategy for onecycle, eta_min for cosine.
    """
    total_steps = total_steps or epochs * steps_per_epoch
    name = (name or "none").lower()
    if name == "none":
        if options:
            raise UserError(f"schedule options {sorted(options)} given without a schedule; choose one with {named('schedule')}")
        return None, False
    try:  # only options a user chose can make a scheduler refuse: the other arguments are ours
        if name == "onecycle":
            options, total_steps = one_cycle_fit(options, total_steps)
            return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=total_steps,
                                                       **{"cycle_momentum": False, **options}), True
        if name == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps, **options), True
        if name == "step":
            return torch.optim.lr_scheduler.StepLR(optimizer, **{"step_size": 1, "gamma": gamma, **options}), False
    except (TypeError, ValueError) as exc:  # an option this scheduler does not take, or a bad value
        if not options:
            raise
        raise UserError(f"schedule {name!r} refused its options {options} ({exc})") from None
    raise UserError(f"unknown schedule {name!r}; choose one of: {', '.join(SCHEDULES)}")


def one_cycle_fit(options: dict, total_steps: int) -> tuple[dict, int]:
    """Options and a length that torch's OneCycleLR can run for a run of `total_steps` steps (a short one, e.g.
    --max-steps 5), as (options, scheduler steps).

    OneCycleLR divides by the warm-up's length in steps less one, and by the decay's: both must be at least one
    step, so the warm-up moves to the nearest length from 2 steps to all but one. A run under 3 steps takes the
    first steps of a 3-step cycle.
    """
    total_steps, pct = max(total_steps, 3), options.get("pct_start", 0.3)
    if not isinstance(pct, (int, float)) or not 0 <= pct <= 1:  # torch refuses it in its own words
        return options, total_steps
    warm = pct * total_steps
    if 2 <= warm <= total_steps - 1:
        return options, total_steps
    return {**options, "pct_start": min(max(warm, 2), total_steps - 1) / total_steps}, total_steps


def default_loss(head: str) -> str:
    """Cross entropy on logits; NLL on (log-)probability heads, as the lectures pair them."""
    return "ce" if head == "logits" else "nll"


def check_loss(loss: str, head: str, smoothing: float = 0.0) -> None:
    """NLL needs (log-)probabilities: on raw logits it has no lower bound and training runs away.

    On a softmax head NLL is -p[target]; smoothing that only rescales it, so it is refused.
    """
    if loss == "nll" and head == "logits":
        raise UserError(f"{named('loss', 'nll')} needs a probability head: add {named('head', 'log_softmax')} (or use "
                        f"{named('loss', 'ce')} with logits)")
    if loss == "nll" and head == "softmax" and smoothing:
        raise UserError(f"{named('label_smoothing')} with {named('loss', 'nll')} on a softmax head only rescales -p[target]; "
                        f"use {named('head', 'log_softmax')}, or {named('label_smoothing', 0)}")


def make_loss(name: str, n_classes: int, smoothing: float = 0.0):
    """A function (outputs, targets) -> mean loss. `mse` compares outputs with one-hot targets.

    `smoothing` spreads that much of each target's weight evenly over all classes (label smoothing):
    the target is (1 - s) * one_hot + s / n_classes, for every loss alike.
    `nll` on a softmax head is -p[target], not -log p[target]: lecture L5's softmax-output
    pitfall, kept on purpose so the `softmax` experiment shows it.
    """
    if name == "ce":
        return smoothed_cross_entropy(smoothing) if smoothing else nn.CrossEntropyLoss()
    if name == "nll":
        nll = nn.NLLLoss()
        if not smoothing:
            return nll
        return lambda out, y: (1 - smoothing) * nll(out, y) - smoothing * out.mean(1).mean()
    if name == "mse":
        mse = nn.MSELoss()
        target = lambda y: nn.functional.one_hot(y, n_classes) * (1 - smoothing) + smoothing / n_classes  # noqa: E731
        return lambda out, y: mse(out, target(y).to(out.dtype))
    raise UserError(f"unknown loss {name!r}; choose one of: {', '.join(LOSSES)}")


def smoothed_cross_entropy(smoothing: float):
    """nn.CrossEntropyLoss(label_smoothing=s) written as one weighted sum of log-probabilities: the same value
    (to float rounding) in 8 kernels with its backward instead of 22, because torch's also masks an
    ignore_index that training never uses. The weights fold in the mean over the batch and the minus sign."""
    def loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        n, classes = len(y), out.shape[-1]
        logp = out.log_softmax(-1)
        off, on = -smoothing / (classes * n), -(1 - smoothing + smoothing / classes) / n
        return (torch.full_like(logp, off).scatter_(-1, y[:, None], on) * logp).sum()
    return loss
