"""The training loop: follow one batch from resident tensor to optimizer step.

The whole data set lives on the device as one tensor; an epoch is a random
permutation sliced into batches, so there is no per-item Dataset or DataLoader.
"""
from __future__ import annotations

import contextlib
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..data.sources import Dataset
from ..data.splits import Splits, make_splits
from ..data.transforms import Normalizer
from ..errors import UserError
from ..models import Net, build_model
from .augment import AUGMENTATIONS, make_augment
from .metrics import evaluate, outputs_of, to_probs
from .optim import check_loss, check_names, default_loss, make_loss, make_optimizer, make_schedule

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16")
METRICS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_loss", "test_accuracy")


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
        if not (self.epochs > 0 and math.isfinite(self.epochs)):
            raise UserError(f"--epochs {self.epochs:g}: must be more than 0 (a fraction such as 0.8 ends inside the epoch)")
        if self.batch_size < 1:
            raise UserError(f"--batch-size {self.batch_size}: must be at least 1")
        if not self.lr > 0:
            raise UserError(f"--lr {self.lr}: the learning rate must be greater than 0")
        if self.precision not in PRECISIONS:
            raise UserError(f"unknown precision {self.precision!r}; choose one of: {', '.join(PRECISIONS)}")
        if not 0 <= self.label_smoothing < 1:
            raise UserError(f"--label-smoothing {self.label_smoothing}: must be at least 0 and below 1 (e.g. 0.1)")
        if self.weight_decay < 0:
            raise UserError(f"--weight-decay {self.weight_decay}: must be 0 or more")
        check_names(self.optimizer, self.schedule, self.loss)
        if self.max_steps < 0:
            raise UserError(f"--max-steps {self.max_steps}: must be 0 (no cap) or a number of steps")
        if self.eval_every < 0:
            raise UserError(f"--eval-every {self.eval_every}: must be 0 (epoch ends only) or a number of steps")
        if self.augment not in AUGMENTATIONS:
            raise UserError(f"unknown augmentation {self.augment!r}; choose one of: {', '.join(AUGMENTATIONS)}")


def set_threads(threads: int | None) -> None:
    """Cap torch's CPU threads (None: torch's default); one thread beats two on oversubscribed cores."""
    if threads is None:
        return
    if threads < 1:
        raise UserError(f"--threads {threads}: must be at least 1")
    torch.set_num_threads(threads)


def resolve_device(name: str) -> torch.device:
    """`auto` picks CUDA, then MPS, then the CPU; an unavailable device is a user error."""
    if name not in DEVICES:
        raise UserError(f"unknown device {name!r}; choose one of: {', '.join(DEVICES)}")
    cuda, mps = torch.cuda.is_available(), getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    if name == "auto":
        name = "cuda" if cuda else "mps" if mps else "cpu"
    if (name == "cuda" and not cuda) or (name == "mps" and not mps):
        raise UserError(f"--device {name}: not available on this machine; use --device auto or cpu")
    return torch.device(name)


def fast_bf16(device: torch.device) -> bool:
    """Whether bf16 autocast speeds this device up (CUDA with bf16; CPUs with AVX512-BF16 or AMX)."""
    if device.type == "cuda":
        try:
            return torch.cuda.is_bf16_supported(including_emulation=False)
        except TypeError:  # torch < 2.3 has no emulation argument and reports native support only
            return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        cpu = torch.cpu
        return any(getattr(cpu, probe, lambda: False)() for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))
    return False


def resolve_precision(precision: str, device: torch.device, model: Net) -> str:
    if precision == "auto":
        return "bf16" if model.is_cnn and fast_bf16(device) else "fp32"
    return precision


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so a clock read afterwards measures it."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    elif device.type == "mps":
        torch.mps.synchronize()


def autocast_for(device: torch.device, precision: str):
    """A context factory for mixed precision, or None for plain fp32."""
    if precision == "bf16":
        return partial(torch.autocast, device_type=device.type, dtype=torch.bfloat16)
    return None


@dataclass
class Run:
    """A trained model with what it was trained on and how it did."""

    model: Net
    normalizer: Normalizer
    train: dict
    data: dict
    history: list[dict]
    classes: tuple[str, ...] = tuple(str(d) for d in range(10))
    run_dir: Path | None = None
    extras: dict = field(default_factory=dict)  # optional records such as weight histograms

    @property
    def final(self) -> dict:
        return {k: self.history[-1][k] for k in METRICS} if self.history else {}

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def prepare(self, images) -> torch.Tensor:
        """Raw pixels (N, 28, 28) / (N, 784), uint8 or 0..255 → the model's input, normalized as in training."""
        return self.normalizer(images, self.device)

    def outputs(self, images) -> torch.Tensor:
        """The model's outputs for raw-pixel images: in bf16 if it was trained so and this device computes bf16 natively."""
        bf16 = self.train.get("precision") == "bf16" and fast_bf16(self.device)
        return outputs_of(self.model, self.prepare(images), autocast=autocast_for(self.device, "bf16" if bf16 else "fp32"))

    def predict(self, images) -> tuple[np.ndarray, np.ndarray]:
        """Predicted classes and class probabilities for raw-pixel images, as NumPy arrays."""
        out = self.outputs(images)
        probs = to_probs(out, self.model.config.head)
        return probs.argmax(1).cpu().numpy(), probs.cpu().numpy()

    def save(self, out_dir: str | Path) -> Path:
        from .checkpoint import save_run

        self.run_dir = save_run(self, out_dir)
        return self.run_dir


class Stopwatch:
    """Training time only: paused while evaluating, synchronized with the device before every reading."""

    def __init__(self, device: torch.device):
        self.device, self.total, self.since = device, 0.0, None

    def start(self) -> None:
        self.since = time.perf_counter()

    def stop(self) -> float:
        synchronize(self.device)
        self.total += time.perf_counter() - self.since
        return self.total


class ProgressBar:
    """One line per epoch on a terminal, redrawn in place; nothing when disabled."""

    def __init__(self, enabled: bool, epoch: int, epochs: int, steps: int):
        self.enabled, self.label, self.steps = enabled, f"epoch {epoch}/{epochs}", steps
        self.every = max(1, steps // 40)

    def update(self, step: int, loss: torch.Tensor) -> None:
        if self.enabled and (step % self.every == 0 or step == self.steps):
            done = int(30 * step / self.steps)
            sys.stderr.write(f"\r{self.label} [{'#' * done}{'.' * (30 - done)}] {step}/{self.steps} loss {float(loss):.4f}")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 80 + "\r")
            sys.stderr.flush()


def fit(model: Net | str, data: Splits | Dataset, *, progress: bool = False,
        on_epoch: Callable[[dict, Net], None] | None = None, **options) -> Run:
    """Train `model` (a Net or a spec string) on `data`; options are the fields of TrainConfig.

    Returns a Run whose history has one row per epoch: train/val/test loss and
    accuracy (fractions), training seconds and evaluation seconds.
    """
    cfg = TrainConfig(**options)
    cfg.check()
    device = resolve_device(cfg.device)
    if isinstance(data, Dataset):
        data = make_splits(data)
    if isinstance(model, str):
        model = build_model(model, n_classes=len(data.classes), seed=cfg.seed)
    if model.config.n_classes != len(data.classes):
        raise UserError(f"the model has {model.config.n_classes} outputs but the data has {len(data.classes)} classes")
    data = data.to(device)
    memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
    model.to(device=device, memory_format=memory_format)
    x_train = data.x_train.contiguous(memory_format=memory_format)
    loss_name = cfg.loss or default_loss(model.config.head)
    loss_fn = make_loss(loss_name, model.config.n_classes, cfg.label_smoothing)
    test_loss_fn = make_loss(loss_name, model.config.n_classes)
    check_loss(loss_name, model.config.head, cfg.label_smoothing)
    decay = {"weight_decay": cfg.weight_decay} if cfg.weight_decay else {}
    optimizer = make_optimizer(cfg.optimizer, model.parameters(), cfg.lr, **decay, **cfg.optimizer_options)
    n, bs = len(data.y_train), cfg.batch_size
    steps = n // bs if cfg.drop_last and n >= bs else math.ceil(n / bs)
    total = max(1, math.ceil(round(cfg.epochs * steps, 6)))  # rounded first: 1.1 * 50 is 55.00000000000001
    total = min(total, cfg.max_steps or total)
    epochs = math.ceil(total / steps)
    scheduler, per_batch = make_schedule(cfg.schedule, optimizer, cfg.lr, epochs, steps, total_steps=total,
                                         **cfg.schedule_options)
    precision = resolve_precision(cfg.precision, device, model)
    autocast = autocast_for(device, precision)
    amp = autocast or contextlib.nullcontext
    augment = make_augment(cfg.augment, data.normalizer, device, cfg.seed)
    torch.manual_seed(cfg.seed)  # dropout draws from the global generator
    order = torch.Generator().manual_seed(cfg.seed)  # batch order has its own
    history: list[dict] = []
    evals: list[dict] = []  # every test evaluation, with the training seconds spent before it
    clock = Stopwatch(device)

    def check(epoch: float, step: int) -> tuple[float, float]:
        loss, acc = evaluate(model, data.x_test, data.y_test, test_loss_fn, autocast)
        evals.append({"step": step, "epoch": round(epoch, 4), "seconds": clock.total, "test_loss": loss,
                      "test_accuracy": acc})
        return loss, acc

    for epoch in range(1, epochs + 1):
        model.train()
        bar = ProgressBar(progress, epoch, epochs, steps)
        trained_before, eval_seconds = clock.total, 0.0
        clock.start()
        perm = torch.randperm(n, generator=order).to(device)
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.int64)
        last = min(steps, total - (epoch - 1) * steps)  # a capped run ends inside its last epoch
        for step, i in enumerate(range(0, last * bs, bs), start=1):
            idx = perm[i:i + bs]
            xb, yb = x_train[idx], data.y_train[idx]
            if augment is not None:
                xb = augment(xb)
            with amp():
                out = model(xb)
            loss = loss_fn(out.float(), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if per_batch:
                scheduler.step()
            loss_sum += loss.detach() * len(idx)
            correct += (out.detach().argmax(1) == yb).sum()
            bar.update(step, loss.detach())
            if cfg.eval_every and step % cfg.eval_every == 0 and step < last:
                clock.stop()
                eval_start = time.perf_counter()
                check(epoch - 1 + step / steps, (epoch - 1) * steps + step)
                eval_seconds += time.perf_counter() - eval_start
                clock.start()
        if scheduler is not None and not per_batch:
            scheduler.step()
        seconds = clock.stop() - trained_before
        bar.close()
        seen = min(n, last * bs)  # images trained on this epoch (fewer with drop_last or max_steps)
        train_loss = float(loss_sum) / seen
        if not math.isfinite(train_loss):
            raise UserError(f"training diverged: the loss became {train_loss} in epoch {epoch}; "
                            f"try a smaller learning rate (e.g. --lr {cfg.lr / 10:g})")
        eval_start = time.perf_counter()
        row = {"epoch": epoch, "train_loss": train_loss, "train_accuracy": float(correct) / seen,
               "val_loss": None, "val_accuracy": None}
        if data.x_val is not None:
            row["val_loss"], row["val_accuracy"] = evaluate(model, data.x_val, data.y_val, test_loss_fn, autocast)
        row["test_loss"], row["test_accuracy"] = check(epoch - 1 + last / steps, (epoch - 1) * steps + last)
        row["seconds"], row["eval_seconds"] = seconds, eval_seconds + time.perf_counter() - eval_start
        history.append(row)
        if on_epoch is not None:
            on_epoch(row, model)

    train = {**asdict(cfg), "loss": loss_name, "device": device.type, "precision": precision,
             "epochs_trained": round(total / steps, 4)}
    extras = {"evals": evals} if cfg.eval_every else {}
    return Run(model.eval(), data.normalizer, train, dict(data.info), history, tuple(data.classes), extras=extras)
