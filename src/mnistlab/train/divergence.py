"""Did a finished run diverge? Its loss ran away without reaching NaN (NaN and infinity `save_run` refuses).

Such a run is saved, with `"diverged": true` in run.json and a warning from `train` and from every `eval`
of it, rather than refused: its weights are finite, and a student trying learning rates (lecture L3) wants to
look at what a too-large one did. A run is called diverged when its final training loss is
- more than RUNAWAY times its first epoch's (it learned, then blew up), or
- more than RUNAWAY times the loss of guessing every class equally while its training accuracy stays below
  twice chance (it never learned, and its outputs are huge).
A short smoke run (`--max-steps 2`) sits near the guessing loss, far below either bound.
"""
from __future__ import annotations

import math

import torch

from ..errors import named
from .optim import default_loss, make_loss

RUNAWAY = 10


def chance_loss(loss: str, head: str, n_classes: int, smoothing: float = 0.0) -> float:
    """The loss of a model that gives every class the same probability (ln C for cross entropy)."""
    uniform = torch.full((n_classes, n_classes), 1.0 / n_classes)
    outputs = {"logits": torch.zeros_like(uniform), "log_softmax": uniform.log(), "softmax": uniform}[head]
    return float(make_loss(loss, n_classes, smoothing)(outputs, torch.arange(n_classes)))


def divergence(history: list[dict], train: dict, head: str, n_classes: int) -> str | None:
    """Why the run counts as diverged (one clause for a warning), or None."""
    losses = [row.get("train_loss") for row in history]
    if not losses or any(x is None or not math.isfinite(x) for x in losses):
        return None
    first, last = losses[0], losses[-1]
    if len(losses) > 1 and first > 0 and last > RUNAWAY * first:
        return f"its training loss rose from {first:.4g} in the first epoch to {last:.4g}"
    chance = chance_loss(train.get("loss") or default_loss(head), head, n_classes, train.get("label_smoothing") or 0.0)
    accuracy = history[-1].get("train_accuracy")
    if chance > 0 and last > RUNAWAY * chance and accuracy is not None and accuracy < 2 / n_classes:
        return (f"its final training loss {last:.4g} is over {RUNAWAY}x that of guessing every class equally "
                f"({chance:.3g}) and its training accuracy is {100 * accuracy:.1f}%, near chance")
    return None


def divergence_warning(where: str, reason: str) -> str:
    return f"{where}: training diverged: {reason}; the results mean little, try a smaller {named('lr')}"
