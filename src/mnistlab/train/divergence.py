"""Did a run diverge? The one verdict (`divergence`, a `Divergence` or None) that `fit`, `fit_many`, a sweep trial,
`train`, `eval` and the experiments all read.

A loss that stops being finite: `fit` stops there (`stop_if_not_finite`), `fit_many` records the model's loss as
None and goes on with its siblings, a sweep records the trial as failed (`finite` False). A loss that runs away
without reaching NaN: the run is saved, with `"diverged": true` in run.json and a warning from `train` and from
every `eval` of it, rather than refused (`finite` True): its weights are finite, and a student trying learning
rates (lecture L3) wants to look at what a too-large one did. A run is called diverged when its final training
loss is
- more than RUNAWAY times its first epoch's (it learned, then blew up), or
- more than RUNAWAY times the loss of guessing every class equally while its training accuracy stays below
  twice chance (it never learned, and its outputs are huge).
A short smoke run (`--max-steps 2`) sits near the guessing loss, far below either bound.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..errors import UserError, named
from .optim import default_loss, make_loss

RUNAWAY = 10


def chance_loss(loss: str, head: str, n_classes: int, smoothing: float = 0.0) -> float:
    """The loss of a model that gives every class the same probability (ln C for cross entropy)."""
    uniform = torch.full((n_classes, n_classes), 1.0 / n_classes)
    outputs = {"logits": torch.zeros_like(uniform), "log_softmax": uniform.log(), "softmax": uniform}[head]
    return float(make_loss(loss, n_classes, smoothing)(outputs, torch.arange(n_classes)))


@dataclass(frozen=True)
class Divergence:
    """Why a run counts as diverged (`reason`, one clause for a warning), and whether its loss stayed finite."""

    reason: str
    finite: bool  # False: the loss became NaN or infinite (nothing to keep); True: it ran away, the run is kept


def divergence(history: list[dict], train: dict, head: str, n_classes: int) -> Divergence | None:
    """The verdict on a run from its history: a Divergence, or None."""
    losses = [row.get("train_loss") for row in history]
    if not losses:
        return None
    if any(x is None or not math.isfinite(x) for x in losses):
        return Divergence("its training loss stopped being finite", finite=False)
    first, last = losses[0], losses[-1]
    if len(losses) > 1 and first > 0 and last > RUNAWAY * first:
        return Divergence(f"its training loss rose from {first:.4g} in the first epoch to {last:.4g}", finite=True)
    chance = chance_loss(train.get("loss") or default_loss(head), head, n_classes, train.get("label_smoothing") or 0.0)
    accuracy = history[-1].get("train_accuracy")
    if chance > 0 and last > RUNAWAY * chance and accuracy is not None and accuracy < 2 / n_classes:
        return Divergence(f"its final training loss {last:.4g} is over {RUNAWAY}x that of guessing every class equally "
                          f"({chance:.3g}) and its training accuracy is {100 * accuracy:.1f}%, near chance", finite=True)
    return None


def stop_if_not_finite(loss: float, epoch: int, lr: float) -> None:
    """`fit`'s verdict after each epoch: a loss that is no longer finite ends the training here."""
    if not math.isfinite(loss):
        raise UserError(f"training diverged: the loss became {loss} in epoch {epoch}; try a smaller learning rate "
                        f"(e.g. {named('lr', f'{lr / 10:g}')})")


def divergence_warning(where: str, verdict: Divergence) -> str:
    return f"{where}: training diverged: {verdict.reason}; the results mean little, try a smaller {named('lr')}"
