"""Optimizers and the one-cycle schedule in NumPy, step for step as torch.optim computes them.

Each optimizer updates its parameter arrays in place; `lr` is an attribute a schedule may change before every
step. The operations follow torch's order (Adam's `denom = sqrt(v) / sqrt(1 - b2^t) + eps`, then
`p -= lr / (1 - b1^t) * m / denom`), so the NumPy and PyTorch engines agree to float rounding.
"""
from __future__ import annotations

import math

import numpy as np


class SGD:
    """Plain mini-batch gradient descent: step against the gradient."""

    def __init__(self, params: dict[str, np.ndarray], lr: float = 0.1):
        self.params, self.lr = params, lr

    def step(self, grads: dict[str, np.ndarray]) -> None:
        for name, g in grads.items():
            self.params[name] -= self.lr * g


class Adam:
    """Adam: per-parameter steps scaled by running averages of the gradient (m) and of its square (v)."""

    def __init__(self, params: dict[str, np.ndarray], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8):
        self.params, self.lr, self.betas, self.eps, self.t = params, lr, tuple(betas), eps, 0
        self.m = {name: np.zeros_like(w) for name, w in params.items()}
        self.v = {name: np.zeros_like(w) for name, w in params.items()}
        self.tmp = {name: np.empty_like(w) for name, w in params.items()}  # each step's scratch space

    def step(self, grads: dict[str, np.ndarray]) -> None:
        b1, b2 = self.betas
        self.t += 1
        step_size = self.lr / (1 - b1 ** self.t)       # undoes m's bias towards its zero start
        v_scale = (1 - b2 ** self.t) ** 0.5            # and v's
        for name, g in grads.items():
            m, v, tmp = self.m[name], self.v[name], self.tmp[name]
            np.subtract(g, m, out=tmp)
            m += (1 - b1) * tmp                        # m = b1 m + (1 - b1) g
            v *= b2
            np.multiply(g, g, out=tmp)
            v += (1 - b2) * tmp                        # v = b2 v + (1 - b2) g^2
            np.sqrt(v, out=tmp)
            tmp /= v_scale
            tmp += self.eps
            np.divide(m, tmp, out=tmp)
            tmp *= -step_size
            self.params[name] += tmp


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def one_cycle_lr(step: int, total: int, max_lr: float, pct_start: float = 0.3, anneal_strategy: str = "cos",
                 div_factor: float = 25.0, final_div_factor: float = 1e4) -> float:
    """The learning rate of step `step` (0-based) of `total` under torch's OneCycleLR (two phases, no momentum
    cycling): a warm-up from max_lr / div_factor to max_lr over the first pct_start of the steps, then an anneal
    down to max_lr / div_factor / final_div_factor, linear or cosine."""
    start = max_lr / div_factor
    warm_end = float(pct_start * total) - 1            # the warm-up's last step, as torch counts it
    if step <= warm_end:
        begin, end, low, high = 0.0, warm_end, start, max_lr
    else:
        begin, end, low, high = warm_end, total - 1, max_lr, start / final_div_factor
    pct = (step - begin) / (end - begin)
    if anneal_strategy == "linear":
        return (high - low) * pct + low
    return high + (low - high) / 2.0 * (math.cos(math.pi * pct) + 1)
