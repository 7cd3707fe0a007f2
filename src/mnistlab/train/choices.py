"""Plain data the command line builds its parser from, torch-free so that `--help` and a command's first line come
before torch loads: the fixed choices of training options, and fine-tuning's defaults."""
from __future__ import annotations

from dataclasses import dataclass

DEVICES = ("auto", "cpu", "cuda", "mps")
CAPTURE = ("auto", "on", "off")
SCHEDULES = ("none", "onecycle", "step", "cosine")  # built by optim.make_schedule
LOSSES = ("ce", "nll", "mse")  # built by optim.make_loss


@dataclass(frozen=True)
class FineTune:
    """How to fine-tune: MNIST training images mixed in, the user's share of the mix, epochs, rate, seed, device."""

    mix: int = 10_000
    share: float = 0.1
    epochs: float = 2.0
    lr: float = 1e-3
    seed: int = 0
    device: str = "auto"
