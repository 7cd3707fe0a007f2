"""The training engine behind `fit`, batched sweeps, `bench` and every experiment.

Follow one batch: `BatchSource` keeps the training set on the device and turns each epoch's permutation into
index rows; `train` (at the end of this file) runs the epochs and calls `Engine.step`; the engine's step
strategy, chosen once (`decide_capture`), picks the batch and its learning rate: `EagerSteps` cuts the batch on
the host and sets the rate from the table computed before training (`schedule_table`); `CapturedSteps` reads
both from device counters, so CUDA can capture the whole step as one graph and replay it with no host work
between steps (`SharedGraph` lets runs of one step shape replay one graph). Either way `Engine._core` runs
forward, loss, backward and the optimizer, and adds the loss and the outputs to accumulators on the device,
which the host reads once per evaluation; `Evaluator` measures a whole set in large chunks. The facts capture
rests on were measured on an H100 (8x less time per step for the fast recipe); on the CPU the step runs
eagerly, where Python slicing is the cheaper way to pick a batch.
"""
from __future__ import annotations

import contextlib
import enum
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch
from torch.optim import optimizer as optimizer_module

from ..errors import UserError, named
from ..progress import Progress
from . import reuse
from .config import CAPTURE
from .device import Stopwatch
from .optim import make_schedule

# Optimizers whose captured step takes its learning rate from a device tensor: torch's capturable Adam family, and
# every optimizer built with fused kernels (make_optimizer(lean=True): Adam, AdamW and SGD on any device).
TENSOR_LR = {"Adam", "AdamW"}
WARMUP_STEPS = 3  # eager steps before a capture: they build cuBLAS/cuDNN state that must not be captured


@dataclass(frozen=True)
class StepPlan:
    """How many optimizer steps an epoch and the whole run take: the one place for this arithmetic."""

    n: int  # training images
    batch_size: int
    steps_per_epoch: int
    total: int  # optimizer steps in the whole run
    epochs: int  # epochs touched; the last one ends early when `total` says so

    @classmethod
    def of(cls, n: int, batch_size: int, epochs: float, drop_last: bool = False, max_steps: int = 0) -> StepPlan:
        steps = n // batch_size if drop_last and n >= batch_size else math.ceil(n / batch_size)
        total = max(1, math.ceil(round(epochs * steps, 6)))  # rounded first: 1.1 * 50 is 55.00000000000001
        total = min(total, max_steps or total)
        return cls(n, batch_size, steps, total, math.ceil(total / steps))

    def steps_in(self, epoch: int) -> int:
        """Steps of epoch `epoch` (1-based): a capped run ends inside its last epoch."""
        return min(self.steps_per_epoch, self.total - (epoch - 1) * self.steps_per_epoch)

    def images_in(self, epoch: int) -> int:
        return min(self.n, self.steps_in(epoch) * self.batch_size)

    def images_after(self, step: int) -> int:
        """Images trained on after `step` optimizer steps in all."""
        epochs, rest = divmod(step, self.steps_per_epoch)
        return epochs * self.images_in(1) + min(self.n, rest * self.batch_size)

    @property
    def epochs_trained(self) -> float:
        return round(self.total / self.steps_per_epoch, 4)


def schedule_table(name: str | None, optimizer: torch.optim.Optimizer, lr: float, plan: StepPlan,
                   options: dict) -> list[list[dict]] | None:
    """Every parameter group's varying hyperparameters (lr; momentum or betas where a schedule cycles them) for
    every step, or None when nothing varies.

    Computed before training by stepping the torch scheduler on a stand-in optimizer with the same groups, so
    each step gets exactly the rate the scheduler would have set, and a captured step can read it from a device
    table instead of asking the host.
    """
    groups = [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
    stand_in = type(optimizer)([{**g, "params": [torch.zeros(1, requires_grad=True)]} for g in groups])
    scheduler, per_batch = make_schedule(name, stand_in, lr, plan.epochs, plan.steps_per_epoch, total_steps=plan.total,
                                         **options)
    if scheduler is None:
        return None
    keys = [k for k in ("lr", "momentum", "betas") if k in groups[0]]
    rows = []
    with warnings.catch_warnings():  # "scheduler.step() before optimizer.step()": the stand-in never steps
        warnings.simplefilter("ignore")
        for step in range(plan.total):
            rows.append([{k: g[k] for k in keys} for g in stand_in.param_groups])
            if per_batch or (step + 1) % plan.steps_per_epoch == 0:
                scheduler.step()
    # a key is in the table if the schedule ever sets it to other than the optimizer's own value
    varying = [k for k in keys if any(row[i][k] != groups[i][k] for row in rows for i in range(len(groups)))]
    return [[{k: g[k] for k in varying} for g in row] for row in rows] if varying else None


class BatchSource:
    """The training set resident on the device; every epoch a new permutation cut into batches.

    The permutation comes from a CPU generator seeded once (the same order on every device) and is copied into
    one device buffer. A captured step (after `stage`) reads its batch from a copy of the set laid out in that
    order each epoch, one index per tensor, so every replay sees the epoch's new order.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, plan: StepPlan, seed: int):
        self.x, self.y, self.plan = x, y, plan
        self.order = torch.Generator().manual_seed(seed)
        self.perm = torch.empty(plan.n, dtype=torch.int64, device=x.device)
        full = plan.n // plan.batch_size
        self.rows = self.perm[: full * plan.batch_size].view(full, plan.batch_size)  # full batches, one per row
        self.staged, self.x_rows, self.y_rows = False, None, None

    def stage(self) -> None:
        """From the next epoch on, keep the set's full batches in this epoch's order for `row`: two index ops per
        step instead of three, for one copy of the set per epoch (outside the captured step)."""
        self.staged = True

    def new_epoch(self) -> None:
        self.perm.copy_(torch.randperm(self.plan.n, generator=self.order))
        if self.staged:  # into the same buffers every epoch: a captured step holds their addresses
            rows, b = self.rows.shape
            if self.x_rows is None:
                self.x_rows = torch.empty((rows, b, *self.x.shape[1:]), dtype=self.x.dtype, device=self.x.device)
                self.y_rows = torch.empty((rows, b), dtype=self.y.dtype, device=self.y.device)
            torch.index_select(self.x, 0, self.rows.view(-1), out=self.x_rows.view(rows * b, *self.x.shape[1:]))
            torch.index_select(self.y, 0, self.rows.view(-1), out=self.y_rows.view(-1))

    def labels(self) -> torch.Tensor:
        """This epoch's labels in the order its batches are drawn (one gather per epoch)."""
        return self.y[self.perm]

    def batch(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Batch `i` of this epoch, cut on the host (the eager path)."""
        idx = self.perm[i * self.plan.batch_size:(i + 1) * self.plan.batch_size]
        return self.x[idx], self.y[idx]

    def row(self, counter: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The full batch whose row a one-element device counter names (the captured path: no host read)."""
        if self.x_rows is not None:
            return self.x_rows.index_select(0, counter)[0], self.y_rows.index_select(0, counter)[0]
        idx = self.rows.index_select(0, counter).view(-1)
        return self.x.index_select(0, idx), self.y.index_select(0, idx)


CHUNK = 10_000  # images an evaluation measures at once


def chunked(x: torch.Tensor, y: torch.Tensor, size: int = CHUNK) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(x[i:i + size], y[i:i + size]) for i in range(0, len(y), size)]


class Evaluator:
    """Loss and accuracy of the model(s) over one resident set, part by part: the one evaluator behind `fit`,
    `fit_many` and `metrics.evaluate`.

    `parts` are (inputs, labels) chunks (`chunked`); with `gather`, a part's inputs are row indices into `gather`
    (each stacked model's own subset). `loss_sum(out, y)` is a part's summed loss (one value, or one per model)
    and `n` the images it is divided by (a count, or one per model); results stay on the device. With `capture`,
    each part's forward pass is captured once as a CUDA graph and replayed at every evaluation.
    """

    def __init__(self, forward: Callable, loss_sum: Callable, parts: list[tuple[torch.Tensor, torch.Tensor]],
                 n: int | torch.Tensor, amp: Callable | None = None, capture: bool = False,
                 gather: torch.Tensor | None = None):
        self.forward, self.loss_sum, self.chunks, self.n = forward, loss_sum, parts, n
        self.amp, self.capture, self.gather = amp or contextlib.nullcontext, capture, gather
        self.graphs, self.results = [], []

    def _measure(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.gather is not None:
            x = self.gather[x]
        with self.amp():
            out = self.forward(x)
        return self.loss_sum(out, y), (out.argmax(-1) == y).sum(-1)

    def __call__(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.capture and not self.graphs:
            try:
                self.graphs, self.results = capture_all([lambda c=c: self._measure(*c) for c in self.chunks])
            except RuntimeError as exc:  # measured eagerly instead: slower, same numbers
                warnings.warn(f"mnistlab: CUDA graph capture of the evaluation failed, evaluating eagerly: "
                              f"{str(exc).splitlines()[0]}", stacklevel=2)
                self.capture = False
        if self.graphs:
            for graph in self.graphs:
                graph.replay()
            results = self.results
        else:
            with torch.inference_mode():
                results = [self._measure(*c) for c in self.chunks]
        loss = sum(r[0] for r in results) / self.n
        return loss, sum(r[1] for r in results).double() / self.n


def capture_graph(function: Callable[[], object]) -> tuple[torch.cuda.CUDAGraph, object]:
    """Record `function` as a CUDA graph without running it; returns the graph and its (static) outputs."""
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = function()
    return graph, out


def capture_all(functions: list[Callable]) -> tuple[list, list]:
    """Run each function once on a side stream (warm-up), then capture each as a CUDA graph; their outputs are
    the graphs' static results, refreshed by every replay."""
    with torch.no_grad():
        with side_stream():
            for f in functions:
                f()
        captured = [capture_graph(f) for f in functions]
    return [g for g, _ in captured], [out for _, out in captured]


def device_reason(device: torch.device) -> str | None:
    """Why nothing can be captured on `device`, or None on CUDA."""
    return None if device.type == "cuda" else f"CUDA graphs need a CUDA device, not {device.type}"


def capture_refused(reason: str) -> UserError:
    """The one-line refusal of --capture on."""
    return UserError(f"{named('capture', 'on')}: {reason}; use {named('capture', 'auto')} (eager where capture is "
                     f"impossible) or off")


def capture_reason(device: torch.device, table: list[list[dict]] | None, optimizers: list[torch.optim.Optimizer],
                   plan: StepPlan) -> str | None:
    """Why this configuration cannot be captured, or None if it can."""
    reason = device_reason(device)
    if reason is not None:
        return reason
    if table is not None and any(k != "lr" for k in table[0][0]):
        return "the schedule cycles momentum, which torch's optimizers read on the host at every step"
    unscheduled = sorted({type(o).__name__ for o in optimizers if not o.defaults.get("fused")} - TENSOR_LR)
    if table is not None and unscheduled:
        return (f"a learning-rate schedule with {', '.join(unscheduled)}: torch reads its learning rate on the host "
                f"(schedules are captured with {' and '.join(sorted(TENSOR_LR))} and fused optimizers; without a schedule any "
                f"optimizer is)")
    if plan.n // plan.batch_size < WARMUP_STEPS + 2:
        return f"an epoch has fewer than {WARMUP_STEPS + 2} full batches"
    return None


class RunningLoss:
    """The epoch's mean training loss so far, for a progress line, read without stalling the device: on CUDA
    the sum is copied to pinned memory without waiting and shown one update late."""

    def __init__(self, loss_sum: torch.Tensor):
        self.loss_sum, self.pinned, self.images = loss_sum, None, 1

    def read(self, images: int) -> float:
        if not self.loss_sum.is_cuda:
            return float(self.loss_sum.sum()) / images
        if self.pinned is None:
            self.pinned = torch.zeros((), pin_memory=True)
        value = float(self.pinned) / self.images
        self.pinned.copy_(self.loss_sum.sum(), non_blocking=True)
        self.images = images
        return value


class Mode(enum.Enum):
    OFF = "off"  # eager steps: asked for, or capture is impossible where nobody needs to hear why (the CPU)
    ON = "on"  # the step captured as one CUDA graph and replayed
    EAGER = "eager"  # capture was asked for but cannot be, or torch refused it: eager steps, and the reason


@dataclass(frozen=True)
class Capture:
    """Whether the steps are captured, and why not where that is news; `str()` is what run.json records."""

    mode: Mode
    reason: str = ""

    def __str__(self) -> str:
        return f"eager: {self.reason}" if self.mode is Mode.EAGER else self.mode.value


def decide_capture(asked: str, device: torch.device, table: list[list[dict]] | None,
                   optimizers: list[torch.optim.Optimizer], plan: StepPlan) -> Capture:
    """--capture auto, on or off, decided once before training: `on` refuses what cannot be captured."""
    if asked not in CAPTURE:
        raise UserError(f"{named('capture', asked)}: choose one of: {', '.join(CAPTURE)}")
    if asked == "off":
        return Capture(Mode.OFF)
    reason = capture_reason(device, table, optimizers, plan)
    if reason is None:
        return Capture(Mode.ON)
    if asked == "on":
        raise capture_refused(reason)
    return Capture(Mode.EAGER, reason) if device.type == "cuda" else Capture(Mode.OFF)


@dataclass
class StepSpec:
    """What a step computes besides the model and its optimizers: the training loss (one value, or one per
    model), mixed precision (a context factory), augmentation, the schedule table (`schedule_table`), whether to
    capture (auto, on, off) and how many models are stepped together."""

    loss: Callable
    amp: Callable | None = None
    augment: Callable | None = None
    table: list[list[dict]] | None = None
    capture: str = "auto"
    models: int = 0  # 0 for one model, K for K stacked ones
    identity: tuple | None = None  # what else the step bakes in (loss, precision, ...): runs alike may share a graph


class Engine:
    """One training run of one model, or of K models stepped together (outputs stacked on dim 0).

    `forward(x)` gives outputs (B, C) or (K, B, C); `modules` are switched between train and eval mode; the
    rest of the step is `spec`. `step(i)` is one optimizer step: the strategy chosen once here (`steps`: eager,
    or captured) picks the batch and the rate, and `_core` does the arithmetic every strategy shares.
    """

    def __init__(self, forward: Callable, modules: list[torch.nn.Module], optimizers: list[torch.optim.Optimizer],
                 source: BatchSource, spec: StepSpec):
        self.forward, self.modules, self.optimizers, self.source = forward, modules, optimizers, source
        self.loss, self.amp, self.augment, self.table = spec.loss, spec.amp or contextlib.nullcontext, spec.augment, spec.table
        self.plan, self.device = source.plan, source.x.device
        self.groups = [g for o in optimizers for g in o.param_groups]
        shape = (spec.models,) if spec.models else ()  # models: 0 for one model, K for K stacked ones
        self.loss_sum = torch.zeros(shape, device=self.device)
        self.outs: torch.Tensor | None = None  # this epoch's outputs, (N, C) or (K, N, C), in batch order: made by the first step
        self.seed: torch.Tensor | None = None  # backward's seed, ones like the loss: made once, not by every step
        self.steps_done, self.capture_s = 0, 0.0
        self.identity, self.evaluators = spec.identity, []
        self.capture = decide_capture(spec.capture, self.device, self.table, optimizers, self.plan)
        self.steps: Steps = EagerSteps(self)
        if self.capture.mode is Mode.ON:
            captured = CapturedSteps(self)
            self.steps = SharedGraph(captured) if self.identity is not None and reuse.active() else captured

    def step(self, i: int) -> None:
        """Optimizer step `i` (0-based) of the current epoch."""
        self.steps(i)
        self.steps_done += 1

    def _core(self, xb: torch.Tensor, yb: torch.Tensor, step: int | torch.Tensor, at: int | torch.Tensor) -> None:
        """Forward, loss, backward, optimizer, accumulators. Gradients are set to None first, so backward writes
        fresh ones instead of adding into zeroed ones (no zero_ and add_ per parameter; a captured graph keeps
        the addresses it wrote them to). `step` is the optimizer step for augmentation (`--augment ...,until=F`):
        an int, or the device's counter. The outputs are kept for `correct`: from image `at` of the epoch (an
        int), or in the batch row a device counter names."""
        if self.augment is not None:
            xb = self.augment(xb, step)
        for o in self.optimizers:
            o.zero_grad(set_to_none=True)
        with self.amp():
            out = self.forward(xb)
        loss = self.loss(out, yb)
        if self.seed is None:
            self.seed = torch.ones_like(loss)
        loss.backward(self.seed)  # K losses: the gradient of their sum
        for o in self.optimizers:
            o.step()
        images = yb.shape[-1]  # per model: labels are (B,) or (K, B)
        self.loss_sum.add_(loss.detach(), alpha=images)
        self._keep(out.detach(), at)

    def _keep(self, out: torch.Tensor, at: int | torch.Tensor) -> None:
        if self.outs is None:
            self.outs = out.new_empty((*out.shape[:-2], self.plan.n, out.shape[-1]))
        if isinstance(at, int):
            self.outs[..., at:at + out.shape[-2], :] = out
            return
        rows, b = self.source.rows.shape[:2]
        by_row = self.outs[..., :rows * b, :].unflatten(-2, (rows, b))
        by_row.index_copy_(by_row.dim() - 3, at, out.unsqueeze(-3))

    def correct(self, images: int) -> torch.Tensor:
        """Correct predictions among this epoch's first `images` (one count, or one per model), counted once from
        the outputs the steps recorded: a step spends one copy on them instead of an argmax, a compare and an add."""
        labels = self.source.labels()[..., :images]
        return (self.outs[..., :images, :].argmax(-1) == labels).sum(-1)

    # -- around the steps ------------------------------------------------------------------------------------------
    def new_epoch(self) -> None:
        self.train_mode(True)
        self.source.new_epoch()
        self.loss_sum.zero_()
        self.steps.new_epoch()

    def train_mode(self, on: bool) -> None:
        for m in self.modules:
            m.train(on)

    def evaluator(self, forward: Callable, loss: Callable, x: torch.Tensor, y: torch.Tensor) -> Evaluator:
        """Mean `loss` (in fp32) and accuracy over (x, y), captured with the steps; reset when a graph is adopted."""
        self.evaluators.append(Evaluator(forward, lambda out, labels: loss(out.float(), labels) * len(labels), chunked(x, y),
                                         len(y), self.amp, self.capture.mode is Mode.ON))
        return self.evaluators[-1]

    def finish(self) -> None:
        """End of training (a run that shared its graph gets tensors of its own back)."""
        self.steps.finish()


class Steps(Protocol):
    """A step strategy: runs step `i` of the epoch through `engine._core`, with the batch and rate it picks."""

    def __call__(self, i: int) -> None: ...

    def new_epoch(self) -> None: ...

    def finish(self) -> None: ...


class EagerSteps:
    """The batch cut on the host, the rate set from the host table: the CPU's step, where Python slicing is the
    cheaper way to pick a batch, and CUDA's where capture is off."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def __call__(self, i: int) -> None:
        e = self.engine
        if e.table is not None:
            for g, values in zip(e.groups, e.table[e.steps_done]):
                g.update(values)
        e._core(*e.source.batch(i), e.steps_done, i * e.plan.batch_size)

    def new_epoch(self) -> None:
        pass

    def finish(self) -> None:
        pass


class DeviceSteps:
    """The capturable step, run eagerly: batch row, learning rate and step number are read and advanced on the
    device, with no host value in the step. `CapturedSteps` records it as a graph; run as it is here it is what
    a capture torch refused falls back to, and how the CPU tests check the captured step's arithmetic.

    Made once before training: the rate table as a device tensor that every group's lr is a view of, optimizers
    on their capturable path (state and step counts on the device), the batch source staged by rows.
    """

    def __init__(self, engine: Engine):
        self.engine = engine
        self.rates = self.lr_now = None
        if engine.table is not None:
            self.rates = torch.tensor([[g["lr"] for g in row] for row in engine.table], dtype=torch.float32,
                                      device=engine.device)
            self.lr_now = self.rates[0].clone()
        capturable = engine.device.type in optimizer_module._get_capturable_supported_devices()
        for o in engine.optimizers:
            if capturable and "capturable" in o.defaults and not o.defaults.get("fused"):
                for g in o.param_groups:
                    g["capturable"] = True
        self.counters = torch.zeros(2, dtype=torch.int64, device=engine.device)  # this epoch's batch row, the step
        self.row_t, self.step_t = self.counters[:1], self.counters[1:]
        engine.source.stage()
        self.views()

    def views(self) -> None:
        """The counters' and rates' views the step reads (again after `reuse.adopt` rebinds their tensors)."""
        self.row_t, self.step_t = self.counters[:1], self.counters[1:]
        if self.lr_now is not None:
            for k, g in enumerate(self.engine.groups):
                g["lr"] = self.lr_now[k]

    def device_step(self, batch: tuple[torch.Tensor, torch.Tensor] | None = None, at: int | None = None) -> None:
        """One step with nothing from the host: the rate from the table at the step counter, the batch at the row
        counter (unless `batch`, the short last one, is given), then both counters advance."""
        if self.rates is not None:
            torch.index_select(self.rates, 0, self.step_t, out=self.lr_now.view(1, -1))
        self.engine._core(*(batch or self.engine.source.row(self.row_t)), self.step_t, self.row_t if at is None else at)
        self.counters.add_(1)

    def __call__(self, i: int) -> None:
        source = self.engine.source
        if i >= len(source.rows):  # the short last batch has its own shape: never in the graph
            self.device_step(source.batch(i), i * source.plan.batch_size)
        else:
            self.full_batch()

    def full_batch(self) -> None:
        with side_stream():
            self.device_step()

    def new_epoch(self) -> None:
        self.row_t.zero_()

    def finish(self) -> None:
        pass


class CapturedSteps(DeviceSteps):
    """The device step captured as one CUDA graph after WARMUP_STEPS eager ones, then replayed: no host work
    between steps. If torch refuses the capture, training goes on with the same step eagerly, and says why once."""

    def __init__(self, engine: Engine):
        super().__init__(engine)
        self.graph: torch.cuda.CUDAGraph | None = None

    def full_batch(self) -> None:
        e = self.engine
        if self.graph is not None:
            self.graph.replay()
        elif e.capture.mode is not Mode.ON:  # torch refused the capture
            super().full_batch()
        elif e.steps_done < WARMUP_STEPS:  # real training steps, run where capture wants them; timed as warm-up
            start = time.perf_counter()
            super().full_batch()
            e.capture_s += time.perf_counter() - start
        else:
            self.capture()

    def capture(self) -> None:
        """Capture the device step and replay it for this step (capturing records, it does not run)."""
        start = time.perf_counter()
        try:
            graph, _ = capture_graph(self.device_step)
        except RuntimeError as exc:
            first_line = str(exc).splitlines()[0]
            self.engine.capture = Capture(Mode.EAGER, f"capture failed ({first_line})")
            warnings.warn(f"mnistlab: CUDA graph capture failed, training eagerly: {first_line}", stacklevel=2)
            super().full_batch()
        else:
            self.graph = graph
            graph.replay()
        self.engine.capture_s += time.perf_counter() - start


class SharedGraph:
    """Graph reuse around the captured strategy (inside `reuse.reuse_captures()`): after one eager step, which
    builds the optimizer's state, take over the graph an earlier run with this very step captured; otherwise
    capture as usual and leave the graph for later runs. At the end the run's tensors become its own again."""

    def __init__(self, captured: CapturedSteps):
        self.captured, self.engine = captured, captured.engine
        self.looked, self.shared = False, False

    def __call__(self, i: int) -> None:
        captured, e = self.captured, self.engine
        if not self.looked and e.steps_done and i < len(e.source.rows) and captured.graph is None \
                and e.capture.mode is Mode.ON:
            self.looked = True
            self.adopt()
        before = captured.graph
        captured(i)
        if before is None and captured.graph is not None and not self.shared:  # it captured its own: keep it
            reuse.store(self.key(), captured.graph, self.slots())
            self.shared = True

    def adopt(self) -> None:
        """Copy this run's tensors into an earlier run's graph and train in them; its evaluations are captured
        again, on the adopted weights."""
        start = time.perf_counter()
        found = reuse.lookup(self.key())
        if found is not None:
            reuse.adopt(found, self.slots())
            self.captured.views()
            rebind = getattr(found.graph, "rebind", None)  # the CPU stand-in re-runs Python: this run's
            if rebind is not None:
                rebind(self.captured.device_step)
            self.captured.graph, self.shared = found.graph, True
            for evaluator in self.engine.evaluators:
                evaluator.graphs, evaluator.results = [], []
        self.engine.capture_s += time.perf_counter() - start

    def key(self) -> tuple:
        e = self.engine
        return reuse.signature(self.slots(), e.groups, (e.identity, repr(e.modules), type(e.source).__name__,
                                                         tuple(type(o).__name__ for o in e.optimizers)))

    def slots(self) -> list[reuse.Slot]:
        """Every tensor the captured step reads or writes, each with how to rebind its owner (train/reuse.py)."""
        e, captured, source = self.engine, self.captured, self.engine.source
        slots = [(p.data, lambda t, p=p: setattr(p, "data", t)) for g in e.groups for p in g["params"]]
        for o in e.optimizers:
            for state in (o.state[p] for g in o.param_groups for p in g["params"] if p in o.state):
                slots += [(v, lambda t, s=state, k=k: s.__setitem__(k, t)) for k, v in sorted(state.items())
                          if isinstance(v, torch.Tensor)]
        for mod in (mod for m in e.modules for mod in m.modules()):
            slots += [(b, lambda t, m=mod, n=name: m._buffers.__setitem__(n, t)) for name, b in mod._buffers.items()
                      if b is not None]
        slots += [(getattr(e, n), lambda t, n=n: setattr(e, n, t)) for n in ("loss_sum", "outs", "seed")]
        names = ["counters"] + (["lr_now", "rates"] if captured.rates is not None else [])
        slots += [(getattr(captured, n), lambda t, n=n: setattr(captured, n, t)) for n in names]
        slots += [(t, lambda t, n=n: setattr(source, n, t)) for n, t in (("x_rows", source.x_rows), ("y_rows", source.y_rows))
                  if t is not None]
        return slots

    def new_epoch(self) -> None:
        self.captured.new_epoch()

    def finish(self) -> None:
        if self.shared:
            reuse.release(self.slots())
            self.captured.views()
            self.shared = False


@contextlib.contextmanager
def side_stream():
    """Run CUDA work on a side stream that waits for, and is waited for by, the current one (capture warm-up)."""
    if not torch.cuda.is_available() or not torch.cuda.is_initialized():
        yield
        return
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        yield
    torch.cuda.current_stream().wait_stream(stream)


def train(engine: Engine, evaluate: Callable[[float, int, bool], dict], clock: Stopwatch, *, eval_every: int = 0,
          progress: Progress | None = None, on_epoch: Callable[[dict], None] | None = None) -> list[dict]:
    """Run every epoch of the engine's plan; return one row per epoch, the device accumulators read once each.

    `evaluate(epoch, step, epoch_end)` runs off the training clock, in eval mode, every `eval_every` steps and
    at each epoch's end; the row holds what it returns at the epoch's end under "evals".
    """
    plan, rows = engine.plan, []

    def check(epoch: float, epoch_end: bool) -> dict:
        engine.train_mode(False)
        result = evaluate(round(epoch, 4), engine.steps_done, epoch_end)
        engine.train_mode(True)
        return result

    for epoch in range(1, plan.epochs + 1):
        engine.new_epoch()
        steps = plan.steps_in(epoch)
        if progress is not None:
            progress.begin(f"epoch {epoch}/{plan.epochs}")
            running, every = RunningLoss(engine.loss_sum), max(1, steps // 40)
        trained_before, eval_seconds = clock.total, 0.0
        clock.start()
        for i in range(steps):
            engine.step(i)
            if progress is not None and ((i + 1) % every == 0 or i + 1 == steps):
                loss = running.read(min(plan.n, (i + 1) * plan.batch_size))
                progress.show(f"step {i + 1}/{steps}  loss {loss:.4f}", (i + 1) / steps, force=i + 1 == steps)
            if eval_every and (i + 1) % eval_every == 0 and i + 1 < steps:
                clock.stop()
                start = time.perf_counter()
                check(epoch - 1 + (i + 1) / plan.steps_per_epoch, False)
                eval_seconds += time.perf_counter() - start
                clock.start()
        seconds = clock.stop() - trained_before
        if progress is not None:
            progress.clear()
        seen = plan.images_in(epoch)
        start = time.perf_counter()
        row = {"epoch": epoch, "train_loss": (engine.loss_sum.double() / seen).tolist(),
               "train_accuracy": (engine.correct(seen).double() / seen).tolist()}
        row["evals"] = check(epoch - 1 + steps / plan.steps_per_epoch, True)
        row["seconds"], row["eval_seconds"] = seconds, eval_seconds + time.perf_counter() - start
        rows.append(row)
        if on_epoch is not None:
            on_epoch(row)
    engine.train_mode(False)
    engine.finish()
    return rows
