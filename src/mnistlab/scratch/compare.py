"""The NumPy engine and PyTorch side by side: one spec, one set of initial weights, the same batches and schedule.

`compare` trains the NumPy `Net` and its twin in PyTorch (`models.build_model` with the NumPy net's initial weights
copied in, torch.optim's optimizer and OneCycleLR, the recipe's loss, eager fp32 on the CPU) on the very same
batches, one step of each in turn, and reports the loss difference at every step, both test accuracies and both
engines' seconds per epoch, measured in the same process with the same threads under the same load.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from ..data import Dataset
from ..data.transforms import Normalizer
from ..models import build_model
from ..tables import format_table
from ..train.optim import make_loss, make_optimizer, make_schedule
from .blas import blas_report
from .layers import Conv, Dense
from .net import Net
from .trainer import NumpyEngine, Plan, memory_guard, run_steps, summary, time_split


def torch_layout(net: Net, which: str = "params") -> list[np.ndarray]:
    """Every weight and bias of `net` (or, with which="grads", their gradients) as PyTorch holds them, in its
    order: Conv2d (F, C, k, k), Linear (U, D), a flattened image in (c, h, w) order where ours is (h, w, c)."""
    arrays = []
    for layer in net.layers:
        if not layer.params:
            continue
        w, b = getattr(layer, which)["w"], getattr(layer, which)["b"]
        if isinstance(layer, Conv):
            w = w.reshape(layer.k, layer.k, -1, w.shape[1]).transpose(3, 2, 0, 1)
        elif isinstance(layer, Dense) and len(layer.input_shape) == 3:
            w = w.reshape(*layer.input_shape, -1).transpose(3, 2, 0, 1).reshape(w.shape[1], -1)
        else:
            w = w.T
        arrays += [np.ascontiguousarray(w), b]
    return arrays


def torch_twin(net: Net, n_classes: int, channels_last: bool = True, dtype: torch.dtype = torch.float32) -> torch.nn.Module:
    """The PyTorch model of `net`'s spec (build_model) holding `net`'s current weights."""
    H, W = net.input_shape[:2]
    model = build_model(net.spec, net.activation, "logits", (1, H, W), n_classes, seed=None).to(dtype)
    params = list(model.parameters())
    arrays = torch_layout(net)
    if [tuple(p.shape) for p in params] != [a.shape for a in arrays]:
        raise AssertionError(f"torch builds {[tuple(p.shape) for p in params]}, numpy {[a.shape for a in arrays]}")
    with torch.no_grad():
        for p, a in zip(params, arrays):
            p.copy_(torch.from_numpy(a))
    return model.to(memory_format=torch.channels_last) if channels_last else model


def torch_parts(model: torch.nn.Module, plan: Plan, n_classes: int) -> tuple:
    """(optimizer, scheduler or None, loss function) exactly as `mnistlab train` makes them for this plan."""
    options = plan.optimizer_options if plan.optimizer == "adam" else {}
    optimizer = make_optimizer(plan.optimizer, model.parameters(), plan.lr, lean=True, **options)
    scheduler, _ = make_schedule(plan.schedule, optimizer, plan.lr, plan.epochs, plan.steps_per_epoch,
                                 total_steps=plan.total_steps, **plan.schedule_options)
    return optimizer, scheduler, make_loss("ce", n_classes, plan.label_smoothing)


class TorchEngine:
    """`model` trained as `mnistlab train` trains it (torch.optim, OneCycleLR, the recipe's loss), eagerly, on the
    batches `run_steps` hands it: `step` trains one, `test` scores the test set."""

    name = "torch"

    def __init__(self, dataset: Dataset, plan: Plan, model: torch.nn.Module):
        normalizer = Normalizer.fit(plan.normalize, dataset.train_images)
        self.X, self.X_test = normalizer(dataset.train_images), normalizer(dataset.test_images)
        self.y, self.y_test = torch.from_numpy(dataset.train_labels.astype(np.int64)), dataset.test_labels
        self.model = model
        self.optimizer, self.scheduler, self.loss_fn = torch_parts(model, plan, dataset.n_classes)

    def step(self, step: int, batch: np.ndarray) -> float:
        index = torch.from_numpy(batch)
        loss = self.loss_fn(self.model(self.X[index]), self.y[index])
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        return loss.item()

    @torch.no_grad()
    def test(self, batch_size: int = 500) -> float:
        predicted = torch.cat([self.model(self.X_test[i:i + batch_size]).argmax(1)
                               for i in range(0, len(self.X_test), batch_size)])
        return float((predicted.numpy() == self.y_test).mean())


def compare(dataset: Dataset, plan: Plan, threads: int, log: Callable[[str], None] = lambda line: None) -> dict:
    """Both engines on one spec, initial weights, batch order and schedule, step by step in turn (`run_steps`), on
    `threads` threads each (NumPy's BLAS and torch's).

    Returns both runs (test accuracy, seconds per epoch, history), the loss difference at every step and the
    ratio NumPy / PyTorch of the seconds per epoch (JSON-able)."""
    ours = NumpyEngine(dataset, plan)
    theirs = TorchEngine(dataset, plan, torch_twin(ours.net, dataset.n_classes))  # before any step
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads, user_api="blas"), memory_guard(plan):
            runs = run_steps(plan, len(ours.X), [ours, theirs], log)
    finally:
        torch.set_num_threads(saved)
    difference = [abs(a - b) for a, b in zip(runs["numpy"]["losses"], runs["torch"]["losses"])]
    numpy_run, torch_run = summary(runs["numpy"], plan), summary(runs["torch"], plan)
    return {"dataset": dataset.describe(), "plan": asdict(plan), "spec": plan.spec, "steps": plan.total_steps,
            "threads": threads, "blas": blas_report(threads),
            "numpy": {**numpy_run, "time_split": time_split(ours.net, numpy_run["train_seconds"])}, "torch": torch_run,
            "loss_difference": {"first": difference[0], "max": max(difference), "mean": float(np.mean(difference)),
                                "per_step": difference},
            "seconds_per_epoch_ratio": numpy_run["seconds_per_epoch"] / torch_run["seconds_per_epoch"]}


def compare_rows(result: dict) -> list[dict]:
    """The side-by-side table: one row per engine (the notebook shows it as HTML, the CLI as text)."""
    rows = []
    for engine, key in (("NumPy (scratch)", "numpy"), ("PyTorch eager fp32", "torch")):
        run = result[key]
        rows.append({"engine": engine, "test accuracy": run["test_accuracy"],
                     "last epoch's loss": run["history"][-1]["loss"], "s per epoch": run["seconds_per_epoch"]})
    return rows


def compare_table(result: dict) -> str:
    """The side-by-side table as text, with the per-step loss difference and the time ratio under it."""
    diff = result["loss_difference"]
    return "\n".join([format_table(compare_rows(result)),
                      f"loss difference per step over {result['steps']} steps: first {diff['first']:.1e}, "
                      f"mean {diff['mean']:.1e}, max {diff['max']:.1e}",
                      f"NumPy / PyTorch seconds per epoch: {result['seconds_per_epoch_ratio']:.2f}x "
                      f"({result['threads']} thread(s) each)"])
