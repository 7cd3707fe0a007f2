"""Plain data the command line builds its parser from, torch-free so that `--help` and a command's first line come
before torch loads: the fixed choices of training options, the bounds of a fold count, and fine-tuning's
defaults."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import UserError, named

DEVICES = ("auto", "cpu", "cuda", "mps")
CAPTURE = ("auto", "on", "off")
SCHEDULES = ("none", "onecycle", "step", "cosine")  # built by optim.make_schedule
LOSSES = ("ce", "nll", "mse")  # built by optim.make_loss

MAX_FOLDS = 100  # K folds train K models on (K-1)/K of the data: K-1 times the work of one training


def check_folds(folds, n_train: int | None = None) -> None:
    """Refuse, before any data is loaded, a fold count that cannot be cross-validation or would run for days:
    `train --folds 30000` on MNIST was still running after 10 minutes with 4 GB resident, with no word of why."""
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise UserError(f"{named('folds', folds)}: cross-validation needs at least 2 folds (e.g. {named('folds', 5)})")
    if folds > MAX_FOLDS:
        raise UserError(f"{named('folds', folds)}: {folds} folds train {folds} models, {folds - 1} times the work of one "
                        f"training; use at most {MAX_FOLDS} (5 or 10 is usual)")
    if n_train is not None and folds > n_train // 2:
        raise UserError(f"{named('folds', folds)}: the training set has only {n_train} images; use fewer folds")


@dataclass(frozen=True)
class FineTune:
    """How to fine-tune: MNIST training images mixed in, the user's share of the mix, epochs, rate, seed, device."""

    mix: int = 10_000
    share: float = 0.1
    epochs: float = 2.0
    lr: float = 1e-3
    seed: int = 0
    device: str = "auto"
