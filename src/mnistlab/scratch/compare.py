"""The NumPy engine and PyTorch side by side: one spec, one set of initial weights, the same batches and schedule.

`compare` trains the NumPy `Net` with `fit_plan`, then its twin in PyTorch (`models.build_model` with the NumPy
net's initial weights copied in, torch.optim's optimizer and OneCycleLR, the recipe's loss, eager fp32 on the CPU)
on the very same batches, and reports the loss difference at every step, both test accuracies and both engines'
seconds per epoch, measured in the same process with the same threads.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from ..data import Dataset
from ..data.transforms import Normalizer
from ..models import build_model
from ..tables import format_table
from ..train.optim import make_loss, make_optimizer, make_schedule
from .layers import Conv, Dense
from .net import Net
from .trainer import Plan, batches, fit_plan, new_net


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


def train_torch(dataset: Dataset, plan: Plan, model: torch.nn.Module,
                on_step: Callable[[int, float], None] | None = None) -> dict:
    """Train `model` on the plan's batches (the NumPy engine's permutations, same seed), eagerly; test each epoch."""
    normalizer = Normalizer.fit(plan.normalize, dataset.train_images)
    X, X_test = normalizer(dataset.train_images), normalizer(dataset.test_images)
    y = torch.from_numpy(dataset.train_labels.astype(np.int64))
    optimizer, scheduler, loss_fn = torch_parts(model, plan, dataset.n_classes)
    history, losses, start = [], [], time.perf_counter()
    for step, (epoch, batch) in enumerate(batches(plan, len(X), np.random.default_rng(plan.seed))):
        index = torch.from_numpy(batch)
        loss = loss_fn(model(X[index]), y[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        losses.append(loss.item())
        if on_step is not None:
            on_step(step, losses[-1])
        if step + 1 == plan.total_steps or (step + 1) % plan.steps_per_epoch == 0:
            seconds = time.perf_counter() - start
            history.append({"epoch": epoch, "loss": float(np.mean(losses)), "seconds": seconds,
                            "test_accuracy": torch_accuracy(model, X_test, dataset.test_labels)})
            losses, start = [], time.perf_counter()
    train_seconds = sum(h["seconds"] for h in history)
    return {"test_accuracy": history[-1]["test_accuracy"], "train_seconds": train_seconds,
            "seconds_per_epoch": train_seconds * plan.steps_per_epoch / plan.total_steps, "history": history}


@torch.no_grad()
def torch_accuracy(model: torch.nn.Module, images: torch.Tensor, labels: np.ndarray, batch_size: int = 500) -> float:
    predicted = torch.cat([model(images[i:i + batch_size]).argmax(1) for i in range(0, len(images), batch_size)])
    return float((predicted.numpy() == labels).mean())


def compare(dataset: Dataset, plan: Plan, threads: int, log: Callable[[str], None] = lambda line: None) -> dict:
    """Both engines on one spec, initial weights, batch order and schedule; `threads` for NumPy's BLAS and torch.

    Returns both runs (test accuracy, seconds per epoch, history), the loss difference at every step and the
    ratio NumPy / PyTorch of the seconds per epoch (JSON-able)."""
    net = new_net(plan, dataset)
    model = torch_twin(net, dataset.n_classes)  # before the NumPy run changes the weights
    losses: dict[str, list[float]] = {"numpy": [], "torch": []}
    log(f"NumPy: {plan.spec}, {plan.total_steps} steps")
    ours = fit_plan(dataset, plan, threads, net, log, lambda step, loss: losses["numpy"].append(loss))
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        log("PyTorch (eager, fp32, the same weights and batches)")
        theirs = train_torch(dataset, plan, model, lambda step, loss: losses["torch"].append(loss))
    finally:
        torch.set_num_threads(saved)
    difference = [abs(a - b) for a, b in zip(losses["numpy"], losses["torch"])]
    return {"spec": plan.spec, "steps": plan.total_steps, "threads": threads,
            "numpy": {k: v for k, v in ours.items() if k not in ("dataset", "plan")}, "torch": theirs,
            "loss_difference": {"first": difference[0], "max": max(difference), "mean": float(np.mean(difference)),
                                "per_step": difference},
            "seconds_per_epoch_ratio": ours["seconds_per_epoch"] / theirs["seconds_per_epoch"],
            "dataset": ours["dataset"], "plan": ours["plan"]}


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
