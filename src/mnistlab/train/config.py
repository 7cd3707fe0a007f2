"""Every option of a training run as one dataclass: plain data, stored in run.json."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import UserError
from .augment import AUGMENTATIONS
from .optim import check_names

PRECISIONS = ("auto", "fp32", "bf16")
METRICS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_loss", "test_accuracy")
MAX_LR, MAX_EPOCHS, MAX_COUNT, MAX_SEED = 1e10, 100_000, 2**31 - 1, 2**32 - 1  # beyond these nothing trains (float32)


@dataclass
class TrainConfig:
    """Every option of a training run, as plain data (stored in run.json)."""

    epochs: float = 2  # a fraction (0.8) ends inside the last epoch; the schedule fits the steps taken
    batch_size: int = 128
    optimizer: str = "adam"
    lr: float = 1e-3
    loss: str | None = None  # None: chosen by the model's head
    schedule: str = "none"
    weight_decay: float = 0.0
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"  # auto: bf16 for CNNs where the device computes bf16 natively
    channels_last: bool = True
    drop_last: bool = False  # skip the last, smaller batch of each epoch (L5's DataLoader does)
    optimizer_options: dict = field(default_factory=dict)
    schedule_options: dict = field(default_factory=dict)  # e.g. {"pct_start": 0.2, "anneal_strategy": "linear"}
    label_smoothing: float = 0.0  # train on targets (1 - s) * one_hot + s / classes; test loss stays unsmoothed
    max_steps: int = 0  # stop after this many optimizer steps (the schedule fits them); 0: all epochs
    eval_every: int = 0  # also test every N steps inside an epoch (time to accuracy); 0: at epoch ends only
    augment: str = "none"  # "affine": random rotation/scale/shift of every training batch

    def check(self) -> None:
        if not (0 < self.epochs <= MAX_EPOCHS):
            raise UserError(f"--epochs {self.epochs:g}: must be more than 0 and at most {MAX_EPOCHS:,} "
                            f"(a fraction such as 0.8 ends inside the epoch)")
        if not 1 <= self.batch_size <= MAX_COUNT:
            raise UserError(f"--batch-size {self.batch_size}: must be from 1 to {MAX_COUNT:,}")
        if not 0 < self.lr <= MAX_LR:
            raise UserError(f"--lr {self.lr}: the learning rate must be greater than 0 and at most {MAX_LR:g} (e.g. 0.001)")
        if not 0 <= self.seed <= MAX_SEED:
            raise UserError(f"--seed {self.seed}: must be from 0 to {MAX_SEED}")
        if self.precision not in PRECISIONS:
            raise UserError(f"unknown precision {self.precision!r}; choose one of: {', '.join(PRECISIONS)}")
        if not 0 <= self.label_smoothing < 1:
            raise UserError(f"--label-smoothing {self.label_smoothing}: must be at least 0 and below 1 (e.g. 0.1)")
        if not 0 <= self.weight_decay <= MAX_LR:
            raise UserError(f"--weight-decay {self.weight_decay}: must be from 0 to {MAX_LR:g} (e.g. 0.0001)")
        check_names(self.optimizer, self.schedule, self.loss)
        if not 0 <= self.max_steps <= MAX_COUNT:
            raise UserError(f"--max-steps {self.max_steps}: must be 0 (no cap) or a number of steps up to {MAX_COUNT:,}")
        if not 0 <= self.eval_every <= MAX_COUNT:
            raise UserError(f"--eval-every {self.eval_every}: must be 0 (epoch ends only) or a number of steps")
        if self.augment not in AUGMENTATIONS:
            raise UserError(f"unknown augmentation {self.augment!r}; choose one of: {', '.join(AUGMENTATIONS)}")
