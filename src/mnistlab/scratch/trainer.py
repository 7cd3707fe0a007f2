"""Training a model spec in NumPy: the same loop `mnistlab train` runs, written out with nothing hidden.

Every epoch draws a permutation of the training images; every step runs forward, the smoothed cross-entropy,
backward, and one optimizer step at the learning rate the schedule sets for that step. `Plan` holds every
choice as plain data; `scratch.recipes.scratch_plan` fills it from the PyTorch recipe, so a hyperparameter is
written once, in train/config.py and train/recipes.py.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from ..data import Dataset
from ..errors import UserError
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
    schedule_steps: int      # the steps the schedule spans: total_steps, or 3 for a shorter run (as torch's)
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
        return one_cycle_lr(step, plan.schedule_steps, plan.lr, **plan.schedule_options)
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
    with memory_guard(plan):
        return Net(plan.spec, plan.activation, (*dataset.train_images.shape[1:], 1), dataset.n_classes, plan.seed)


@contextmanager
def memory_guard(plan: Plan) -> Iterator[None]:
    """A network or batch too large for this machine's memory is the user's to shrink: said in one line."""
    try:
        yield
    except MemoryError as exc:
        raise UserError(f"model {plan.spec!r} at batch size {plan.batch_size} does not fit in memory ({exc}); "
                        f"use fewer units or channels, or a smaller --batch-size") from None


def make_optimizer(plan: Plan, net: Net):
    return OPTIMIZERS[plan.optimizer](net.params, lr=plan.lr, **(plan.optimizer_options if plan.optimizer == "adam" else {}))


class NumpyEngine:
    """The plan's NumPy net, its optimizer and the normalized data: `step` trains one batch, `test` scores."""

    name = "numpy"

    def __init__(self, dataset: Dataset, plan: Plan, net: Net | None = None):
        # the constants `mnistlab train` fits (data.transforms, whose module also holds torch's transforms)
        from ..data.transforms import Normalizer

        self.plan, self.normalizer = plan, Normalizer.fit(plan.normalize, dataset.train_images)
        self.X, self.X_test = (normalized(images, self.normalizer) for images in (dataset.train_images, dataset.test_images))
        self.y, self.y_test = dataset.train_labels.astype(np.int64), dataset.test_labels.astype(np.int64)
        self.net = net or new_net(plan, dataset)
        self.optimizer = make_optimizer(plan, self.net)

    def step(self, step: int, batch: np.ndarray) -> float:
        """Forward, loss, backward and one optimizer step at the schedule's rate for `step`; the batch's loss."""
        loss = self.net.step_loss(self.X[batch], self.y[batch], self.plan.label_smoothing)
        with self.net.clock("optimizer"):
            self.optimizer.lr = learning_rate(self.plan, step)
            self.optimizer.step(self.net.grads)
        return loss

    def test(self) -> float:
        with self.net.clock.paused():  # testing is not training time
            return float((self.net.predict(self.X_test) == self.y_test).mean())


def run_steps(plan: Plan, n: int, engines: list, log: Callable[[str], None] = lambda line: None,
              on_step: Callable[[int, list[float]], None] | None = None) -> dict[str, dict]:
    """Every step of `plan` (batches of `n` images) for each engine in turn, interleaved step by step so that a
    shared machine's changing load falls on all of them alike; each is tested after every epoch.

    Returns, per engine name, its `history` (per epoch: mean loss, training seconds, test accuracy), its
    `losses` (every step's) and its `train_seconds` (testing excluded). `on_step(step, losses)` follows each step.
    """
    runs = {e.name: {"history": [], "losses": [], "train_seconds": 0.0} for e in engines}
    epoch_seconds = dict.fromkeys(runs, 0.0)
    for step, (epoch, batch) in enumerate(batches(plan, n, np.random.default_rng(plan.seed))):
        for engine in engines:
            start = time.perf_counter()
            runs[engine.name]["losses"].append(engine.step(step, batch))
            epoch_seconds[engine.name] += time.perf_counter() - start
        if on_step is not None:
            on_step(step, [runs[e.name]["losses"][-1] for e in engines])
        if step + 1 == plan.total_steps or (step + 1) % plan.steps_per_epoch == 0:
            for engine in engines:
                run, steps = runs[engine.name], step % plan.steps_per_epoch + 1
                run["history"].append({"epoch": epoch, "loss": float(np.mean(run["losses"][-steps:])),
                                       "seconds": epoch_seconds[engine.name], "test_accuracy": engine.test()})
                run["train_seconds"] += epoch_seconds[engine.name]
                epoch_seconds[engine.name] = 0.0
                log(f"{engine.name} epoch {epoch}: loss {run['history'][-1]['loss']:.4f}, test accuracy "
                    f"{run['history'][-1]['test_accuracy']:.4f} ({run['history'][-1]['seconds']:.1f} s)")
    return runs


def summary(run: dict, plan: Plan) -> dict:
    """A run's final test accuracy, training seconds and seconds per epoch, with its history."""
    return {"test_accuracy": run["history"][-1]["test_accuracy"], "train_seconds": run["train_seconds"],
            "seconds_per_epoch": run["train_seconds"] * plan.steps_per_epoch / plan.total_steps,
            "history": run["history"]}


def time_split(net: Net, train_seconds: float) -> dict[str, float]:
    """Where the training time went: im2col, GEMM, pooling, activation, loss, optimizer, and the rest."""
    split = {kind: round(s, 3) for kind, s in sorted(net.clock.seconds.items(), key=lambda kv: -kv[1])}
    return {**split, "other": round(train_seconds - sum(split.values()), 3)}


def fit_plan(dataset: Dataset, plan: Plan, threads: int | str = "auto", net: Net | None = None,
             log: Callable[[str], None] = lambda line: None,
             on_step: Callable[[int, float], None] | None = None) -> dict:
    """Train `plan` on `dataset` in NumPy, testing after every epoch; returns metrics and history (JSON-able).

    `threads`: NumPy's BLAS threads, a count or `auto` (mnistlab.threads: the cores nothing else is busy on).
    `on_step(step, loss)` follows every step. Each history entry's `seconds` is that epoch's training time,
    testing excluded; `time_split` says where the training time went (im2col, GEMM, pooling, optimizer, ...);
    the top-level `seconds` is the whole call, data preparation and testing included.
    """
    begin, threads = time.perf_counter(), resolve_threads(threads)
    with threadpool_limits(limits=threads, user_api="blas"), memory_guard(plan):
        engine = NumpyEngine(dataset, plan, net)
        step_done = None if on_step is None else lambda step, losses: on_step(step, losses[0])
        run = run_steps(plan, len(engine.X), [engine], lambda line: log(line.removeprefix("numpy ")), step_done)["numpy"]
    return {"dataset": dataset.describe(), "plan": asdict(plan), "normalization": engine.normalizer.to_dict(),
            **summary(run, plan), "seconds": time.perf_counter() - begin,
            "time_split": time_split(engine.net, run["train_seconds"]), "blas": blas_report(threads)}
