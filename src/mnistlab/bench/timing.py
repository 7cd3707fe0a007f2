"""`mnistlab bench`: time to accuracy of our recipes against public reference recipes, in one process.

Every recipe trains on the same data set on the same device with the same thread settings; seeds are
interleaved (reference, ours, reference, ours, ...) so that load on a shared machine hits all alike.
The training clock stops while the test set is evaluated, so evaluation time is reported separately.
"""
from __future__ import annotations

import math
import os
import resource
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from ..data.dataset import Dataset
from ..data.transforms import Normalizer
from ..errors import UserError
from ..models import build_model
from ..train.device import Stopwatch, resolve_device
from ..train.engine import StepPlan, capture_refused, device_reason
from ..train.loop import train_recipe
from ..train.metrics import evaluate
from ..train.optim import make_optimizer, make_schedule
from ..train.recipes import get_recipe, recipe_settings
from ..train.reuse import reuse_captures
from .lineup import BENCH, REFERENCE, chosen


def steps_between_evals(data: Dataset, batch_size: int, evals_per_epoch: int) -> int:
    """Training steps between test evaluations, for `evals_per_epoch` of them per epoch."""
    return max(1, math.ceil(StepPlan.of(len(data.train_labels), batch_size, 1).steps_per_epoch / evals_per_epoch))


def first_reaching(evals: list[dict], target: float) -> dict | None:
    """The first evaluation at or above `target` test accuracy: where the time to target is read."""
    return next((e for e in evals if e["test_accuracy"] >= target), None)


def engine_run(name: str, data: Dataset, seed: int, device: str, evals_per_epoch: int, max_epochs: int,
               max_steps: int = 0, capture: str = "auto", **_) -> dict:
    """A recipe trained by `train_recipe` (our engine); a published recipe keeps its own (eager) settings."""
    settings = recipe_settings(name)
    options = {} if get_recipe(name).reference else {"capture": capture}
    run = train_recipe(name, data, seed=seed, device=device, max_steps=max_steps, epochs=min(settings["epochs"], max_epochs),
                       eval_every=steps_between_evals(data, settings["batch_size"], evals_per_epoch), **options)
    t = run.train
    plan = StepPlan.of(run.data["n_train"], t["batch_size"], t["epochs"], t["drop_last"], t["max_steps"])
    return {"evals": run.extras["evals"], "images": plan.images_after(run.extras["evals"][-1]["step"]),
            "final_accuracy": run.final["test_accuracy"], "eval_seconds": sum(r["eval_seconds"] for r in run.history),
            "capture": t["capture"], "capture_s": t["capture_s"]}


def dataloader_run(name: str, data: Dataset, seed: int, device: str, evals_per_epoch: int, max_epochs: int,
                   target: float, max_steps: int = 0, **_) -> dict:
    """pytorch-examples with its own DataLoader loop, as published: the one trainer outside the engine, on purpose
    (every other recipe, the published fast-reference included, trains through `train_recipe`), because its
    per-item loader is what it measures. It stops after the epoch in which it first reaches `target`, or after
    `max_epochs`."""
    recipe, t = get_recipe(name), recipe_settings(name)
    dev = resolve_device(device)
    norm = Normalizer("standard", 0.1307, 0.3081)  # the constants the examples hard-code
    x, y = norm(data.train_images), torch.as_tensor(data.train_labels, dtype=torch.int64)
    x_test, y_test = norm(data.test_images, dev), torch.as_tensor(data.test_labels, dtype=torch.int64, device=dev)
    model = build_model(recipe.model, recipe.activation, recipe.head, tuple(x.shape[1:]), len(data.classes), seed).to(dev)
    torch.manual_seed(seed)
    cuda = {"num_workers": 1, "pin_memory": True} if dev.type == "cuda" else {}
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=t["batch_size"], shuffle=True,
                                         generator=torch.Generator().manual_seed(seed), **cuda)
    optimizer = make_optimizer(t["optimizer"], model.parameters(), t["lr"])
    scheduler, _ = make_schedule(t["schedule"], optimizer, t["lr"], max_epochs, len(loader))
    every = steps_between_evals(data, t["batch_size"], evals_per_epoch)
    clock, evals, images, eval_seconds = Stopwatch(dev), [], 0, 0.0

    def check(epoch: float) -> float:
        nonlocal eval_seconds
        start = time.perf_counter()
        loss, acc = evaluate(model, x_test, y_test, F.nll_loss)
        evals.append({"epoch": round(epoch, 4), "seconds": clock.total, "test_loss": loss, "test_accuracy": acc})
        eval_seconds += time.perf_counter() - start
        return acc

    for epoch in range(1, max_epochs + 1):
        model.train()
        clock.start()
        for step, (xb, yb) in enumerate(loader, start=1):
            xb, yb = xb.to(dev), yb.to(dev)
            optimizer.zero_grad()
            loss = F.nll_loss(model(xb), yb)
            loss.backward()
            optimizer.step()
            images += len(yb)
            if max_steps and step >= max_steps:
                break
            if step % every == 0 and step < len(loader):
                clock.stop()
                check(epoch - 1 + step / len(loader))
                model.train()
                clock.start()
        scheduler.step()
        clock.stop()
        if check(epoch) >= target or max_steps:
            break
    return {"evals": evals, "images": images, "final_accuracy": evals[-1]["test_accuracy"], "eval_seconds": eval_seconds,
            "capture": "off", "capture_s": 0.0}


def run_recipe(bench_name: str, **options) -> dict:
    name = BENCH[bench_name]
    return (dataloader_run if get_recipe(name).dataloader else engine_run)(name, **options)


class PeakMemory:
    """Peak memory of one run: CUDA's allocator peak, or on CPU the process's resident set sampled every 5 ms."""

    def __init__(self, device: torch.device):
        self.device, self.peak, self._stop = device, 0, threading.Event()

    @staticmethod
    def rss() -> int:
        try:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:  # no /proc: the lifetime peak is the best available figure
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self.rss())

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        else:
            self.peak = self.rss()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            self.peak = torch.cuda.max_memory_allocated()
        else:
            self._stop.set()
            self._thread.join()
            self.peak = max(self.peak, self.rss())

    @property
    def mb(self) -> float:
        return round(self.peak / 2**20, 1)


@dataclass(frozen=True)
class BenchSpec:
    """Which recipes race, how often, to what accuracy, on which device, how finely the crossing is timed."""

    recipes: list[str] | None = None  # default: all of RECIPES
    seeds: int = 3
    target: float = 0.99
    device: str = "auto"
    max_epochs: int = 14
    evals_per_epoch: int = 10  # test evaluations per epoch (at least one) time the crossing; the clock excludes them
    warmup: bool = True  # a short untimed warm-up of every recipe first builds the kernels each needs
    capture: str = "auto"  # applies to our recipes; the published ones run as published (eager)


def bench(data: Dataset, spec: BenchSpec | None = None, on_result: Callable[[dict], None] | None = None, **given) -> dict:
    """Train each recipe for each seed, interleaved, and report time to the target test accuracy per run.

    `given`: BenchSpec's fields by keyword. A captured run's clock includes its warm-up and capture (`capture_s`
    says how much of it that was). `on_result(result)` after each run.
    """
    spec = replace(spec or BenchSpec(), **given)
    seeds, target, device, max_epochs, evals_per_epoch = spec.seeds, spec.target, spec.device, spec.max_epochs, spec.evals_per_epoch
    recipes, warmup, capture = spec.recipes, spec.warmup, spec.capture
    recipes = chosen(recipes)
    if seeds < 1 or evals_per_epoch < 1 or max_epochs < 1:
        raise UserError("--seeds, --evals-per-epoch and --max-epochs must be at least 1")
    dev = resolve_device(device)
    if capture == "on" and device_reason(dev):
        raise capture_refused(device_reason(dev))
    options = dict(data=data, device=dev.type, evals_per_epoch=evals_per_epoch, max_epochs=max_epochs, target=target,
                   capture=capture)
    with reuse_captures():  # each recipe's step is captured by its first seed and replayed by the others
        if warmup:
            for recipe in recipes:
                run_recipe(recipe, seed=0, max_steps=3, **options)
        results = [timed_run(recipe, seed, dev, target, options, on_result) for seed in range(seeds) for recipe in recipes]
    summary = summarize(results, recipes)
    return {"device": dev.type, "threads": torch.get_num_threads(), "target": target, "seeds": seeds, "capture": capture,
            "evals_per_epoch": evals_per_epoch, "torch": torch.__version__, "results": results, "summary": summary}


def timed_run(recipe: str, seed: int, dev: torch.device, target: float, options: dict,
              on_result: Callable[[dict], None] | None) -> dict:
    """One seed of one recipe as a result row; `capture_s` (warm-up steps and capture, or taking over an earlier
    seed's graph) is reported apart, though the training clock and so the time to target include it."""
    with PeakMemory(dev) as memory:
        out = run_recipe(recipe, seed=seed, **options)
    seconds = out["evals"][-1]["seconds"]
    reached = first_reaching(out["evals"], target)
    result = {"recipe": recipe, "seed": seed,
              "time_to_target_s": None if reached is None else round(reached["seconds"], 3),
              "epochs_to_target": None if reached is None else reached["epoch"],
              "final_accuracy": out["final_accuracy"], "train_s": round(seconds, 3),
              "eval_s": round(out["eval_seconds"], 3), "images_per_s": round(out["images"] / seconds),
              "peak_mem_mb": memory.mb, "capture": out["capture"], "capture_s": out["capture_s"]}
    if on_result is not None:
        on_result(result)
    return result


def summarize(results: list[dict], recipes: list[str]) -> dict:
    """Per recipe: median time to target (a run that never got there counts as slowest), mean accuracy,
    and the ratio of medians to fast-reference's."""
    summary = {}
    for recipe in recipes:
        runs = [r for r in results if r["recipe"] == recipe]
        times = sorted(math.inf if r["time_to_target_s"] is None else r["time_to_target_s"] for r in runs)
        median = statistics.median(times)
        summary[recipe] = {"median_time_to_target_s": None if math.isinf(median) else round(median, 3),
                           "mean_accuracy": round(statistics.fmean(r["final_accuracy"] for r in runs), 5),
                           "runs_reaching_target": sum(r["time_to_target_s"] is not None for r in runs),
                           "runs": len(runs),
                           "median_images_per_s": round(statistics.median(r["images_per_s"] for r in runs)),
                           "max_peak_mem_mb": max(r["peak_mem_mb"] for r in runs),
                           "capture_s": [r.get("capture_s", 0.0) for r in runs]}
    ref = summary.get(REFERENCE, {}).get("median_time_to_target_s")
    for row in summary.values():
        mine = row["median_time_to_target_s"]
        row["time_ratio_to_fast_reference"] = round(mine / ref, 3) if ref and mine is not None else None
    return summary
