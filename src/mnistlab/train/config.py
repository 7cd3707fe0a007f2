"""Every option of a training run as one dataclass: plain data, stored in run.json."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import UserError, named
from .augment import ROBUST, parse_augment
from .choices import CAPTURE, DEVICES, LOSSES, SCHEDULES

PRECISIONS = ("auto", "fp32", "bf16")
METRICS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_loss", "test_accuracy")
# optimizer and scheduler arguments mnistlab passes itself: the options that set each, or () (derived)
OWN_OPTIMIZER = {"params": (), "lr": ("lr",), "weight_decay": ("weight_decay",)}
OWN_SCHEDULE = {"optimizer": (), "max_lr": ("lr",), "total_steps": ("epochs", "max_steps"),
                "T_max": ("epochs", "max_steps"), "epochs": ("epochs",), "steps_per_epoch": ()}
MAX_LR, MAX_EPOCHS, MAX_COUNT, MAX_SEED = 1e10, 100_000, 2**31 - 1, 2**32 - 1  # beyond these nothing trains (float32)
# Plain training: a constant learning rate, torch's optimizer defaults and the plain loss. `fit_many` trains so
# by default and every lecture does (experiments/settings.py), so the default recipe never leaks into either.
PLAIN = dict(schedule="none", optimizer_options={}, schedule_options={}, label_smoothing=0.0)


def option(default, help: str, **cli):
    """A TrainConfig field with its command-line help: `mnistlab train` builds its options from these."""
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help, **cli})
    return field(default=default, metadata={"help": help, **cli})


@dataclass
class TrainConfig:
    """Every option of a training run, as plain data (stored in run.json).

    The defaults are the default recipe: `fit(model, splits)` in a notebook trains what `mnistlab train` does,
    and every other recipe (train/recipes.py) is written as its differences from these.
    """

    epochs: float = option(2.0, "passes over the training set; a fraction such as 0.8 ends inside the last one")
    batch_size: int = option(256, "images per optimizer step")
    optimizer: str = option("adam", "any torch.optim optimizer by name")
    lr: float = option(1e-2, "learning rate (the peak rate with onecycle)")
    loss: str | None = option(None, "ce, nll or mse (default: ce for logits, nll for probability heads)", choices=LOSSES)
    schedule: str = option("onecycle", "learning-rate schedule", choices=SCHEDULES)
    weight_decay: float = option(0.0, "weight decay (L2 penalty, decoupled for adamw)")
    seed: int = option(0, "same seed, same device: same numbers")
    device: str = option("auto", "auto picks cuda, then mps, then cpu", choices=DEVICES)
    precision: str = option("auto", "auto: bf16 autocast for CNNs on devices with native bf16, else fp32",
                            choices=PRECISIONS)
    channels_last: bool = option(True, "NHWC memory layout, faster convolutions on CPU and GPU")
    drop_last: bool = option(False, "skip the last, smaller batch of each epoch (as L5's DataLoader does)")
    optimizer_options: dict = option({"betas": (0.7, 0.9)}, "extra optimizer arguments as JSON, e.g. "
                                     "'{\"momentum\": 0.9}' (the default holds only with the default optimizer)")
    schedule_options: dict = option({"pct_start": 0.2, "anneal_strategy": "linear"},
                                    "extra scheduler arguments as JSON, e.g. '{\"pct_start\": 0.3}' (the default holds "
                                    "only with the recipe's own model and schedule)")
    label_smoothing: float = option(0.1, "train on targets (1 - s) * one-hot + s / classes; the test loss stays plain "
                                         "(the default holds only with the recipe's own model, else 0)")
    max_steps: int = option(0, "stop after N optimizer steps; the schedule fits them (0: no cap)")
    eval_every: int = option(0, "also evaluate the test set every N steps, off the training clock (0: epoch ends only)")
    init: str = option("", "start from this run's weights (a run directory with the same model spec and input "
                           "shape), e.g. to fine-tune on a folder of your own digits with --data")
    augment: str = option("none", "train-time augmentation: none; affine (random rotation, scale and shift); or a "
                                  "list of " + ", ".join(ROBUST) + " with optional strengths (1: as docs/robustness.md "
                                  "describes), share=F, the fraction of each batch augmented (default 0.5), and until=F, "
                                  "the fraction of the steps augmented (the rest train on clean digits), e.g. "
                                  "'elastic,blur=0.5,share=0.35,until=0.8'")
    capture: str = option("auto", "CUDA graphs: auto captures each step and evaluation on CUDA where the "
                                  "configuration allows, else eager; on refuses where it cannot; off never",
                          choices=CAPTURE)

    def check(self) -> None:
        if not (0 < self.epochs <= MAX_EPOCHS):
            raise UserError(f"{named('epochs', f'{self.epochs:g}')}: must be more than 0 and at most {MAX_EPOCHS:,} "
                            f"(a fraction such as 0.8 ends inside the epoch)")
        if not 1 <= self.batch_size <= MAX_COUNT:
            raise UserError(f"{named('batch_size', self.batch_size)}: must be from 1 to {MAX_COUNT:,}")
        if not 0 < self.lr <= MAX_LR:
            raise UserError(f"{named('lr', self.lr)}: the learning rate must be greater than 0 and at most {MAX_LR:g} (e.g. 0.001)")
        if not 0 <= self.seed <= MAX_SEED:
            raise UserError(f"{named('seed', self.seed)}: must be from 0 to {MAX_SEED}")
        if self.precision not in PRECISIONS:
            raise UserError(f"unknown precision {self.precision!r}; choose one of: {', '.join(PRECISIONS)}")
        if not 0 <= self.label_smoothing < 1:
            raise UserError(f"{named('label_smoothing', self.label_smoothing)}: must be at least 0 and below 1 (e.g. 0.1)")
        if not 0 <= self.weight_decay <= MAX_LR:
            raise UserError(f"{named('weight_decay', self.weight_decay)}: must be from 0 to {MAX_LR:g} (e.g. 0.0001)")
        from .optim import check_names  # torch.optim names the optimizers; `train --help` reads these fields without it

        check_names(self.optimizer, self.schedule, self.loss)
        if not 0 <= self.max_steps <= MAX_COUNT:
            raise UserError(f"{named('max_steps', self.max_steps)}: must be 0 (no cap) or a number of steps up to {MAX_COUNT:,}")
        if not 0 <= self.eval_every <= MAX_COUNT:
            raise UserError(f"{named('eval_every', self.eval_every)}: must be 0 (epoch ends only) or a number of steps")
        if self.capture not in CAPTURE:
            raise UserError(f"{named('capture', self.capture)}: choose one of: {', '.join(CAPTURE)}")
        parse_augment(self.augment)
        for what, options, own in (("optimizer", self.optimizer_options, OWN_OPTIMIZER), ("schedule", self.schedule_options, OWN_SCHEDULE)):
            taken = [key for key in own if key in options]
            if taken:
                raise UserError(f"{named(what + '_options', repr(taken[0]))}: set by mnistlab itself"
                                + (f"; give it with {' or '.join(map(named, own[taken[0]]))} instead" if own[taken[0]]
                                   else "; leave it out"))
