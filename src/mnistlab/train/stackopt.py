"""One optimizer for stacked parameters whose K models each have their own optimizer and learning rate.

Models are ordered so that each optimizer family (SGD, Adam, ...) owns a contiguous block of rows of every
stacked leaf; a family updates its block with a handful of foreach operations whatever K is. Each model's
learning rate is a device tensor, read for every step from a device table (a schedule, or a constant), and
step counts live on the device too, so the step never asks the host for a number and can be captured.
The updates follow torch.optim's own formulas for the same options (the tests compare them step for step).
"""
from __future__ import annotations

import math

import torch

from ..errors import UserError
from .optim import make_optimizer

# The options each family honours; torch's other options (amsgrad, maximize, dampening, ...) are refused
# unless left at their defaults. The implementation choices (foreach, fused, capturable) mean nothing here.
OPTIONS = {"sgd": ("momentum", "nesterov", "weight_decay"), "adam": ("betas", "eps", "weight_decay"),
           "adamw": ("betas", "eps", "weight_decay"), "rmsprop": ("alpha", "eps", "momentum", "centered", "weight_decay")}
IGNORED = ("foreach", "fused", "capturable", "differentiable", "lr", "decoupled_weight_decay")


def family_defaults(name: str, lr: float, options: dict) -> dict:
    """torch's defaults for optimizer `name` with `options` applied (torch validates them), refusing any option
    the stacked update does not implement."""
    name = name.lower()
    if name not in OPTIONS:
        raise UserError(f"optimizer {name!r} cannot train stacked models; choose one of: {', '.join(OPTIONS)}")
    defaults = make_optimizer(name, [torch.zeros(1, requires_grad=True)], lr, **options).defaults
    plain = make_optimizer(name, [torch.zeros(1, requires_grad=True)], lr).defaults
    changed = [k for k, v in defaults.items() if k not in OPTIONS[name] + IGNORED and v != plain[k]]
    if changed:
        raise UserError(f"optimizer {name!r} option(s) {', '.join(changed)} cannot train stacked models; "
                        f"train these models one by one with fit")
    return defaults


class Family:
    """One optimizer family's rows [start, stop) of every stacked leaf, with its state."""

    def __init__(self, name: str, rows: slice, options: dict, params: list[torch.Tensor], whole: bool):
        self.name, self.rows, self.o = name, rows, options
        self.whole = whole  # the family owns every row: update the leaves themselves, not row views
        zeros = lambda: [torch.zeros_like(p[rows]) for p in params]  # noqa: E731
        slots = {"sgd": lambda: ["momentum"] if options["momentum"] else [],
                 "adam": lambda: ["exp_avg", "exp_avg_sq"], "adamw": lambda: ["exp_avg", "exp_avg_sq"],
                 "rmsprop": lambda: ["square_avg", *(["grad_avg"] if options["centered"] else []),
                                     *(["momentum"] if options["momentum"] else [])]}[name]()
        self.state = {slot: zeros() for slot in slots}

    def view(self, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        return tensors if self.whole else [t[self.rows] for t in tensors]

    def step(self, params: list[torch.Tensor], grads: list[torch.Tensor], lr: torch.Tensor, count: torch.Tensor) -> None:
        """One update; `lr` is this family's (rows,) rates, `count` the step number (float64, on the device)."""
        params, grads = self.view(params), self.view(grads)

        def per(t: torch.Tensor) -> list[torch.Tensor]:  # per-model values shaped to broadcast over each leaf
            views: dict[int, torch.Tensor] = {}
            return [views.setdefault(p.dim(), t.view(-1, *[1] * (p.dim() - 1))) for p in params]

        wd = self.o["weight_decay"]
        if wd and self.name != "adamw":
            grads = torch._foreach_add(grads, params, alpha=wd)
        getattr(self, "_" + self.name.replace("adamw", "adam"))(params, grads, lr, count, per)

    def _sgd(self, params, grads, lr, count, per) -> None:
        momentum = self.o["momentum"]
        if momentum:
            buf = self.state["momentum"]
            torch._foreach_mul_(buf, momentum)  # torch's first step copies the gradient: the same as 0 * m + g
            torch._foreach_add_(buf, grads)
            grads = torch._foreach_add(grads, buf, alpha=momentum) if self.o["nesterov"] else buf
        torch._foreach_addcmul_(params, grads, per(-lr))

    def _adam(self, params, grads, lr, count, per) -> None:
        beta1, beta2 = self.o["betas"]
        m, v = self.state["exp_avg"], self.state["exp_avg_sq"]
        if self.name == "adamw" and self.o["weight_decay"]:
            torch._foreach_mul_(params, per(1 - lr * self.o["weight_decay"]))
        torch._foreach_lerp_(m, grads, 1 - beta1)
        torch._foreach_mul_(v, beta2)
        torch._foreach_addcmul_(v, grads, grads, value=1 - beta2)
        step_size_neg = (-lr.double() / (1 - beta1 ** count)).float()  # as torch's capturable Adam computes it
        root = (1 - beta2 ** count).sqrt().float()
        denom = torch._foreach_sqrt(v)
        torch._foreach_div_(denom, per(root * step_size_neg))
        torch._foreach_add_(denom, per(self.o["eps"] / step_size_neg))
        torch._foreach_addcdiv_(params, m, denom)

    def _rmsprop(self, params, grads, lr, count, per) -> None:
        alpha, eps, momentum = self.o["alpha"], self.o["eps"], self.o["momentum"]
        square = self.state["square_avg"]
        torch._foreach_mul_(square, alpha)
        torch._foreach_addcmul_(square, grads, grads, value=1 - alpha)
        if self.o["centered"]:
            mean = self.state["grad_avg"]
            torch._foreach_lerp_(mean, grads, 1 - alpha)
            avg = torch._foreach_addcmul(square, mean, mean, value=-1)
            torch._foreach_sqrt_(avg)
        else:
            avg = torch._foreach_sqrt(square)
        torch._foreach_add_(avg, eps)
        if momentum:
            buf = self.state["momentum"]
            torch._foreach_mul_(buf, momentum)
            torch._foreach_addcdiv_(buf, grads, avg)
            torch._foreach_addcmul_(params, buf, per(-lr))
        else:
            torch._foreach_addcmul_(params, torch._foreach_div(grads, avg), per(-lr))


class StackedOptimizer(torch.optim.Optimizer):
    """Every family of a stacked program in one torch optimizer (the engine zeroes and steps it as any other).

    `families` are (name, rows, options) with rows a slice of the model axis; `rates` is a (steps, K) device
    table of learning rates, or (1, K) for constant rates.
    """

    def __init__(self, params: list[torch.Tensor], families: list[tuple[str, slice, dict]], rates: torch.Tensor):
        super().__init__(params, {"lr": math.nan})
        self.rates, self.varying = rates, len(rates) > 1
        k = rates.shape[1]
        self.families = [Family(name, rows, options, params, rows == slice(0, k)) for name, rows, options in families]
        device = rates.device
        self.count = torch.zeros((), dtype=torch.float64, device=device)  # steps taken (Adam's bias correction)
        self.index = torch.zeros(1, dtype=torch.int64, device=device)  # the row of `rates` for the next step
        self.lr = rates[0].clone()  # the rates of the step in progress, one per model

    @torch.no_grad()
    def step(self, closure=None) -> None:
        params = self.param_groups[0]["params"]
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        self.count += 1
        if self.varying:
            self.lr.copy_(self.rates.index_select(0, self.index).view(-1))
            self.index += 1
        for f in self.families:
            f.step(params, grads, self.lr if f.whole else self.lr[f.rows], self.count)
