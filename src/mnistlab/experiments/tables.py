"""Table rows from runs: the columns experiments share (the printed table is `mnistlab.tables`)."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch's: experiment modules import this one, and `experiment run --help` reads them
    from ..train.run import Run


def final_columns(run: Run) -> dict:
    """The columns most tables share: final train and test accuracy, test loss."""
    f = run.final
    return {"train_accuracy": f["train_accuracy"], "test_accuracy": f["test_accuracy"], "test_loss": f["test_loss"]}


def at_epoch(run: Run, epoch: int) -> dict:
    """The history row after `epoch` epochs (without a schedule, a longer run passes through the shorter one)."""
    return run.history[min(epoch, len(run.history)) - 1]
