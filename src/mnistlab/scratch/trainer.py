"""Training a model spec in NumPy: the same loop `mnistlab train` runs, written out with nothing hidden.

Every epoch draws a permutation of the training images; every step runs forward, the smoothed cross-entropy,
backward, and one optimizer step at the learning rate the schedule sets for that step. `Plan` holds every
choice as plain data; `scratch.recipes.scratch_plan` fills it from the PyTorch recipe, so a hyperparameter is
written once, in train/config.py and train/recipes.py.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from ..data import Dataset
from ..threads import resolve_threads
from .blas import blas_report
from .net import Net
from .optim import OPTIMIZERS, one_cycle_lr

SCHEDULES = ("onecycle", "none")


@dataclass(frozen=True)
class Plan:
    """Every choice of a NumPy training run (`scratch_plan` reads them from a recipe)."""

    spec: str
    activation: str
    normalize: str
    batch_size: int
    steps_per_epoch: int
    total_steps: int
    optimizer: str
    lr: float
    optimizer_options: dict  # betas, eps for Adam
    schedule: str
    schedule_options: dict   # pct_start, anneal_strategy, div_factor, final_div_factor for onecycle
    label_smoothing: float
    seed: int

    @property
    def epochs(self) -> int:
        return -(-self.total_steps // self.steps_per_epoch)


def normalized(images: np.ndarray, normalizer) -> np.ndarray:
    """uint8 images as float32, scaled as `Normalizer` scales them for torch (the same constants, fitted on train)."""
    x = images.astype(np.float32)
    if normalizer.mode == "unit":
        return x / np.float32(255)
    if normalizer.mode == "standard":
        return (x / np.float32(255) - np.float32(normalizer.mean)) / np.float32(normalizer.std)
    if normalizer.mode == "binary":
        return (x > 0).astype(np.float32)
    return x


def learning_rate(plan: Plan, step: int) -> float:
    """The learning rate of step `step` (0-based)."""
    if plan.schedule == "onecycle":
        return one_cycle_lr(step, plan.total_steps, plan.lr, **plan.schedule_options)
    return plan.lr


def batches(plan: Plan, n: int, rng: np.random.Generator) -> Iterator[tuple[int, np.ndarray]]:
    """(epoch, image indices) of every step: a fresh permutation each epoch, the last batch of each smaller."""
    for step in range(plan.total_steps):
        epoch, i = divmod(step, plan.steps_per_epoch)
        if i == 0:
            order = rng.permutation(n)
        yield epoch + 1, order[i * plan.batch_size:(i + 1) * plan.batch_size]


def new_net(plan: Plan, dataset: Dataset) -> Net:
    """The plan's network for the data set's images and classes, initialized from the plan's seed."""
    return Net(plan.spec, plan.activation, (*dataset.train_images.shape[1:], 1), dataset.n_classes, plan.seed)


def make_optimizer(plan: Plan, net: Net):
    return OPTIMIZERS[plan.optimizer](net.params, lr=plan.lr, **(plan.optimizer_options if plan.optimizer == "adam" else {}))


def accuracy(net: Net, images: np.ndarray, labels: np.ndarray) -> float:
    with net.clock.paused():  # testing is not training time
        return float((net.predict(images) == labels).mean())


def fit_plan(dataset: Dataset, plan: Plan, threads: int | str = "auto", net: Net | None = None,
             log: Callable[[str], None] = lambda line: None,
             on_step: Callable[[int, float], None] | None = None) -> dict:
    """Train `plan` on `dataset` in NumPy, testing after every epoch; returns metrics and history (JSON-able).

    `threads`: NumPy's BLAS threads, a count or `auto` (mnistlab.threads: the cores nothing else is busy on).
    `on_step(step, loss)` follows every step. Each history entry's `seconds` is that epoch's training time,
    testing excluded; `time_split` says where the training time went (im2col, GEMM, pooling, optimizer, ...);
    the top-level `seconds` is the whole call, data preparation and testing included.
    """
    threads = resolve_threads(threads)
    with threadpool_limits(limits=threads, user_api="blas"):
        return _fit(dataset, plan, threads, net, log, on_step)


def _fit(dataset: Dataset, plan: Plan, threads: int, net: Net | None, log, on_step) -> dict:
    # the constants `mnistlab train` fits (data.transforms, whose module also holds torch's transforms)
    from ..data.transforms import Normalizer

    begin = time.perf_counter()
    normalizer = Normalizer.fit(plan.normalize, dataset.train_images)
    X, X_test = (normalized(images, normalizer) for images in (dataset.train_images, dataset.test_images))
    y, y_test = dataset.train_labels.astype(np.int64), dataset.test_labels.astype(np.int64)
    net = net or new_net(plan, dataset)
    optimizer, rng = make_optimizer(plan, net), np.random.default_rng(plan.seed)
    history, losses, train_seconds, start = [], [], 0.0, time.perf_counter()
    for step, (epoch, batch) in enumerate(batches(plan, len(X), rng)):
        losses.append(net.step_loss(X[batch], y[batch], plan.label_smoothing))
        with net.clock("optimizer"):
            optimizer.lr = learning_rate(plan, step)
            optimizer.step(net.grads)
        if on_step is not None:
            on_step(step, losses[-1])
        if step + 1 == plan.total_steps or (step + 1) % plan.steps_per_epoch == 0:
            seconds = time.perf_counter() - start
            train_seconds += seconds
            history.append({"epoch": epoch, "loss": float(np.mean(losses)), "seconds": seconds,
                            "test_accuracy": accuracy(net, X_test, y_test)})
            log(f"epoch {epoch}: loss {history[-1]['loss']:.4f}, test accuracy {history[-1]['test_accuracy']:.4f} "
                f"({seconds:.1f} s)")
            losses, start = [], time.perf_counter()
    split = {kind: round(s, 3) for kind, s in sorted(net.clock.seconds.items(), key=lambda kv: -kv[1])}
    return {"dataset": dataset.describe(), "plan": asdict(plan), "normalization": normalizer.to_dict(),
            "test_accuracy": history[-1]["test_accuracy"], "train_seconds": train_seconds,
            "seconds": time.perf_counter() - begin,
            "seconds_per_epoch": train_seconds * plan.steps_per_epoch / plan.total_steps,
            "time_split": {**split, "other": round(train_seconds - sum(split.values()), 3)},
            "history": history, "blas": blas_report(threads)}

