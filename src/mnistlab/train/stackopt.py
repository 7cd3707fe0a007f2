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

    def __init__(self, name: str, rows: slice, options: dict, params: list[torch.Tensor], whole: bool, steps: int):
        self.name, self.rows, self.o = name, rows, options
        self.whole = whole  # the family owns every row: update the leaves themselves, not row views
        self.params, self.grads, self.grad_views = self.view(params), [], []
        zeros = lambda: [torch.zeros_like(p) for p in self.params]  # noqa: E731
        slots = {"sgd": lambda: ["momentum"] if options["momentum"] else [],
                 "adam": lambda: ["exp_avg", "exp_avg_sq"], "adamw": lambda: ["exp_avg", "exp_avg_sq"],
                 "rmsprop": lambda: ["square_avg", *(["grad_avg"] if options["centered"] else []),
                                     *(["momentum"] if options["momentum"] else [])]}[name]()
        self.state = {slot: zeros() for slot in slots}
        if name in ("adam", "adamw"):  # Adam's bias corrections of every step, (steps, 2): 1 / (1 - b1^t), sqrt(1 - b2^t)
            t = torch.arange(1, steps + 1, dtype=torch.float64)
            beta1, beta2 = options["betas"]
            self.bias = torch.stack([1 / (1 - beta1 ** t), (1 - beta2 ** t).sqrt()], 1).float().to(params[0].device)

    def view(self, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        return tensors if self.whole else [t[self.rows] for t in tensors]

    def grad_rows(self, grads: list[torch.Tensor]) -> list[torch.Tensor]:
        """This family's rows of the gradients; the views are kept while the gradient tensors stay the same
        (they do in a captured step)."""
        if len(grads) != len(self.grads) or any(a is not b for a, b in zip(grads, self.grads)):
            self.grads, self.grad_views = grads, self.view(grads)
        return self.grad_views

    def step(self, grads: list[torch.Tensor], neg_lr: torch.Tensor, index: torch.Tensor) -> None:
        """One update; `neg_lr` is this family's (rows,) rates negated, `index` the step (0-based, on the device)."""
        params, grads = self.params, self.grad_rows(grads)

        def per(t: torch.Tensor) -> list[torch.Tensor]:  # per-model values shaped to broadcast over each leaf
            views: dict[int, torch.Tensor] = {}
            return [views.setdefault(p.dim(), t.view(-1, *[1] * (p.dim() - 1))) for p in params]

        wd = self.o["weight_decay"]
        if wd and self.name != "adamw":
            grads = torch._foreach_add(grads, params, alpha=wd)
        getattr(self, "_" + self.name.replace("adamw", "adam"))(params, grads, neg_lr, index, per)

    def _sgd(self, params, grads, neg_lr, index, per) -> None:
        momentum = self.o["momentum"]
        if momentum:
            buf = self.state["momentum"]
            torch._foreach_mul_(buf, momentum)  # torch's first step copies the gradient: the same as 0 * m + g
            torch._foreach_add_(buf, grads)
            grads = torch._foreach_add(grads, buf, alpha=momentum) if self.o["nesterov"] else buf
        torch._foreach_addcmul_(params, grads, per(neg_lr))

    def _adam(self, params, grads, neg_lr, index, per) -> None:
        beta1, beta2 = self.o["betas"]
        m, v = self.state["exp_avg"], self.state["exp_avg_sq"]
        if self.name == "adamw" and self.o["weight_decay"]:
            torch._foreach_mul_(params, per(neg_lr * self.o["weight_decay"] + 1))
        torch._foreach_lerp_(m, grads, 1 - beta1)
        torch._foreach_mul_(v, beta2)
        torch._foreach_addcmul_(v, grads, grads, value=1 - beta2)
        bias = self.bias.index_select(0, index).view(2)
        step_size_neg = neg_lr * bias[0]  # as torch's capturable Adam: p += m / (sqrt(v) / (root * s) + eps / s)
        denom = torch._foreach_sqrt(v)
        torch._foreach_div_(denom, per(bias[1] * step_size_neg))
        torch._foreach_add_(denom, per(self.o["eps"] / step_size_neg))
        torch._foreach_addcdiv_(params, m, denom)

    def _rmsprop(self, params, grads, neg_lr, index, per) -> None:
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
            torch._foreach_addcmul_(params, buf, per(neg_lr))
        else:
            torch._foreach_addcmul_(params, torch._foreach_div(grads, avg), per(neg_lr))


class StackedOptimizer(torch.optim.Optimizer):
    """Every family of a stacked program in one torch optimizer (the engine zeroes and steps it as any other).

    `families` are (name, rows, options) with rows a slice of the model axis; `rates` is the (steps, K) device
    table of every step's learning rates. One step reads its row and the families' bias corrections through
    a device counter: a handful of operations whatever K is.
    """

    def __init__(self, params: list[torch.Tensor], families: list[tuple[str, slice, dict]], rates: torch.Tensor):
        super().__init__(params, {"lr": math.nan})
        self.neg_rates, k = -rates, rates.shape[1]
        self.families = [Family(name, rows, options, params, rows == slice(0, k), len(rates))
                         for name, rows, options in families]
        self.index = torch.zeros(1, dtype=torch.int64, device=rates.device)  # the step in progress, 0-based

    @torch.no_grad()
    def step(self, closure=None) -> None:
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.param_groups[0]["params"]]
        neg_lr = self.neg_rates.index_select(0, self.index).view(-1)
        for f in self.families:
            f.step(grads, neg_lr if f.whole else neg_lr[f.rows], self.index)
        self.index += 1
