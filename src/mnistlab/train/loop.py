"""The training loop: follow one batch from resident tensor to optimizer step.

The whole data set lives on the device as one tensor; an epoch is a random
permutation sliced into batches, so there is no per-item Dataset or DataLoader.
"""
from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict

import torch

from ..data.sources import Dataset
from ..data.splits import Splits, make_splits
from ..errors import UserError
from ..models import Net, build_model
from .augment import make_augment
from .config import TrainConfig
from .device import Stopwatch, autocast_for, resolve_device, resolve_precision
from .metrics import evaluate
from .optim import check_loss, default_loss, make_loss, make_optimizer, make_schedule
from .run import Run


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
    precision = resolve_precision(cfg.precision, device, model.is_cnn)
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
