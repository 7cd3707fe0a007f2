"""Capture once, replay for many: runs of one step shape share one captured CUDA graph.

Capturing a step costs its warm-up steps and the capture itself (tens of milliseconds on a GPU, more than the
fast recipe's whole training at a few seeds). A graph only knows addresses, so a later run with the same step (same
model structure, batch, optimizer and options) can replay it if its tensors live at those addresses: after one
eager step (which builds its optimizer state as usual), the run copies every tensor the step reads or writes
(weights, buffers, optimizer state, accumulators, counters, rates, staged batches) into the graph's own and
rebinds its objects to them; the values are the run's, so it trains exactly as if it had captured its own. At the
end of the run its objects get copies of their own, so the trained model never shares memory with the next run.

Only inside `reuse_captures()` (bench, sweep workers), and at most KEEP graphs at once: elsewhere a run's graph
is freed with it.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass

import torch

_CACHE: ContextVar[dict | None] = ContextVar("mnistlab_captured_steps", default=None)
Slot = tuple[torch.Tensor, Callable[[torch.Tensor], None]]  # a tensor the step uses, and how to rebind its owner
KEEP = 4  # captured steps held at once


@dataclass
class Captured:
    graph: object  # torch.cuda.CUDAGraph, or graphcheck's StrictGraph on the CPU
    tensors: list[torch.Tensor]  # the graph's own tensors, in slot order


@contextlib.contextmanager
def reuse_captures() -> Iterator[dict]:
    """Within this block, runs whose captured step matches an earlier run's replay that graph."""
    cache = _CACHE.get()
    token = _CACHE.set({}) if cache is None else None
    try:
        yield _CACHE.get()
    finally:
        if token is not None:
            _CACHE.reset(token)


def active() -> bool:
    return _CACHE.get() is not None


def signature(slots: list[Slot], groups: list[dict], identity: tuple) -> tuple:
    """What a graph bakes in besides addresses: tensor shapes, dtypes and strides, non-tensor hyperparameters,
    and the caller's `identity` of the rest of the step (model structure, loss, precision, augmentation)."""
    tensors = tuple((tuple(t.shape), t.dtype, t.stride(), str(t.device)) for t, _ in slots)
    hyper = tuple(tuple(sorted((k, "tensor" if isinstance(v, torch.Tensor) else repr(v))
                               for k, v in g.items() if k != "params")) for g in groups)
    return identity, tensors, hyper


def lookup(key: tuple) -> Captured | None:
    cache = _CACHE.get()
    return None if cache is None else cache.get(key)


def store(key: tuple, graph: object, slots: list[Slot]) -> None:
    """Keep the graph for later runs; the oldest goes when more than KEEP are held (each holds a copy of the
    training set and the model's tensors, so a sweep over many shapes must not keep them all)."""
    cache = _CACHE.get()
    if cache is not None and key not in cache:
        cache[key] = Captured(graph, [t for t, _ in slots])
        while len(cache) > KEEP:
            del cache[next(iter(cache))]


def adopt(captured: Captured, slots: list[Slot]) -> None:
    """Copy this run's values into the graph's tensors and rebind the run's objects to them."""
    with torch.no_grad():
        for (mine, rebind), theirs in zip(slots, captured.tensors):
            theirs.copy_(mine)
            rebind(theirs)


def release(slots: list[Slot]) -> None:
    """Give the run's objects copies of their own, so the next run sharing the graph leaves them alone."""
    with torch.no_grad():
        for tensor, rebind in slots:
            rebind(tensor.clone(memory_format=torch.preserve_format))
