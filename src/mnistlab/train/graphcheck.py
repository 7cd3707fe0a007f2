"""A strict CPU stand-in for CUDA-graph capture: the engine's capture path run where no GPU is, failing wherever
a real graph would be wrong.

A CUDA graph records a step's kernels once and replays them with the same arguments at the same addresses; the
Python that built them never runs again. So a step is graph-safe only if (1) it never reads a value back to the
host (`.item()`, `bool(t)`, `float(t)`, `.tolist()`, `.numpy()`, `.cpu()`, printing): capture forbids the
synchronization, and a host decision would be frozen at its captured value; and (2) running its Python again
would issue the same ops with the same constants on the same persistent tensors, or the replays would silently
train with stale values (a learning rate set from the host, a batch cut with a host index).

`StrictGraph` checks both on the CPU. Capturing runs the step once while recording every aten op (name,
non-tensor arguments, shapes, dtypes, and for tensors that outlive the step their storage address); each replay
runs the step's Python again and must record exactly the same sequence. Any host read raises at once.
`strict_capture()` routes the engine's capture path through it on the CPU, with optimizers on their CUDA code
path (capturable state and tensor learning rates, foreach or fused kernels), so every recipe's real captured step
can be checked in the test suite, by benchmarks (`benchmarks/kernels.py` counts its kernels) and by anyone whose
code runs inside a step (augmentation, stacked models).

Like a CUDA graph, capture does the step's work once: the first replay after a capture is that run itself.
"""
from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from . import engine

# Tensor methods that hand a value to the host: fatal inside a graph.
HOST_READS = {"item", "tolist", "numpy", "cpu", "__bool__", "__float__", "__int__", "__index__", "__complex__",
              "__repr__", "__str__", "__format__", "__array__"}
# aten ops that copy a device value to the host.
HOST_OPS = {"aten::_local_scalar_dense", "aten::item", "aten::is_nonzero"}
# Ops that launch no kernel: metadata, aliasing and allocation. Everything else counts as one launch.
NO_KERNEL = {"aten::detach", "aten::lift_fresh", "aten::empty", "aten::empty_strided", "aten::empty_like",
             "aten::_reshape_alias", "aten::alias", "aten::set_", "aten::resize_", "aten::_unsafe_view",
             "aten::_has_compatible_shallow_copy_type", "aten::sym_size", "aten::sym_stride", "aten::sym_numel",
             "aten::sym_storage_offset", "aten::is_same_size", "aten::_to_copy_noop"}


class GraphSafetyError(Exception):
    """The step would not be correct as a CUDA graph. Not a RuntimeError: the engine falls back to eager steps
    on those (torch refusing a capture), and this one must reach the test that ran the check."""


def is_kernel(op: str, is_view: bool) -> bool:
    return not is_view and op not in NO_KERNEL


class HostReads(TorchFunctionMode):
    """Raises on any tensor method that reads a value back to the host."""

    def __init__(self, where: str):
        super().__init__()
        self.where = where

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in HOST_READS:
            raise GraphSafetyError(f"host read during {self.where}: Tensor.{name}() (a CUDA graph cannot hand values "
                                   f"to the host; keep the value on the device)")
        return func(*args, **(kwargs or {}))


class OpRecorder(TorchDispatchMode):
    """Records every aten op as (name, is_view, signature); raises on host reads and host data at dispatch level.

    A tensor argument is described by shape, stride, dtype and where it comes from: the index of the op that
    made its storage in this run, or, for a tensor that lives outside the step (a weight, an optimizer state, a
    counter), its storage address, which a replay must find unchanged.
    """

    def __init__(self, where: str):
        super().__init__()
        self.where, self.ops, self.origin = where, [], {}

    def describe(self, value, made: bool = False):
        if isinstance(value, torch.Tensor):
            ptr = value.untyped_storage().data_ptr() if value.layout == torch.strided else id(value)
            source = self.origin.setdefault(ptr, ("outside", ptr))
            return ("T", tuple(value.shape), value.stride() if value.layout == torch.strided else (), value.dtype,
                    value.storage_offset() if value.layout == torch.strided else 0, source)
        if isinstance(value, (list, tuple)):
            return tuple(self.describe(v) for v in value)
        if isinstance(value, dict):
            return tuple(sorted((k, self.describe(v)) for k, v in value.items()))
        if isinstance(value, float):
            return ("f", value.hex())
        if isinstance(value, (bool, int, str, type(None))):
            return value
        if isinstance(value, torch.Generator):  # a new Python wrapper each call: named by device and seed
            return ("generator", str(value.device), value.initial_seed())
        return repr(value)  # dtypes, devices, layouts, memory formats, enums

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = func._schema.name
        if name.startswith("profiler::"):  # torch's record_function markers: no kernel, a new handle every run
            return func(*args, **kwargs)
        if name in HOST_OPS:
            raise GraphSafetyError(f"host read during {self.where}: {name} (a value read back to the host); a CUDA "
                                   f"graph cannot hand values to the host")
        if name == "aten::lift_fresh":  # torch.tensor(host data): a graph bakes the values in, so they are constants
            with torch._C.DisableTorchFunction():
                signature = (name, args[0].dtype, args[0].tolist())
        else:
            signature = (name, self.describe(args), self.describe(kwargs))
        out = func(*args, **kwargs)
        index = len(self.ops)
        for tensor in (out if isinstance(out, (list, tuple)) else (out,)):
            if isinstance(tensor, torch.Tensor) and tensor.layout == torch.strided:
                ptr = tensor.untyped_storage().data_ptr()
                if self.origin.get(ptr, ("made",))[0] != "outside":  # a write into an outside tensor keeps its name
                    self.origin[ptr] = ("made", index)
        self.ops.append((name, func.is_view, signature))
        return out


def record(function: Callable[[], object], where: str) -> tuple[object, list]:
    """Run `function` once with host reads forbidden; return its result and the ops it issued."""
    recorder = OpRecorder(where)
    with HostReads(where), recorder:
        out = function()
    return out, recorder.ops


def first_difference(captured: list, replayed: list) -> str:
    for i, (a, b) in enumerate(zip(captured, replayed)):
        if a != b:
            return f"op {i}: captured {a[0]} {summary(a[2])}, replayed {b[0]} {summary(b[2])}"
    return f"captured {len(captured)} ops, replayed {len(replayed)}"


def summary(signature: tuple, limit: int = 160) -> str:
    text = repr(signature[1:])
    return text if len(text) <= limit else text[:limit] + "..."


class StrictGraph:
    """Stands in for torch.cuda.CUDAGraph on the CPU: `capture(function)` runs and records the step, each
    `replay()` runs it again and fails unless it issues the same ops with the same constants on the same
    persistent tensors. Static outputs are refreshed in place, as a graph's are."""

    def __init__(self):
        self.function, self.ops, self.outputs, self.replays, self.pending = None, None, None, 0, False
        self.grad = True

    def capture(self, function: Callable[[], object]) -> object:
        self.function, self.grad = function, torch.is_grad_enabled()  # a graph replays what autograd recorded then
        self.outputs, self.ops = record(function, "capture")
        self.pending = True  # the capture's run is the first replay's work
        return self.outputs

    def rebind(self, function: Callable[[], object]) -> None:
        """Replays run `function` from now on: another run's step that took over this graph's tensors
        (train/reuse.py), as a CUDA graph replays for whoever owns the memory it points at."""
        self.function = function

    @property
    def kernels(self) -> int:
        """Kernel launches one replay of this step costs on a GPU (ops that are not views or allocations)."""
        return sum(is_kernel(name, view) for name, view, _ in self.ops)

    def replay(self) -> None:
        self.replays += 1
        if self.pending:
            self.pending = False
            return
        with torch.set_grad_enabled(self.grad):
            fresh, ops = record(self.function, f"replay {self.replays}")
        if ops != self.ops:
            raise GraphSafetyError(f"replay {self.replays} ran other ops or constants than the capture: "
                                   f"{first_difference(self.ops, ops)}")
        if self.outputs is not None:
            with torch.no_grad():
                for static, new in zip(flat(self.outputs), flat(fresh)):
                    static.copy_(new)


def flat(value) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in flat(v)]
    return []


def _cpu_capturable(supports_xla: bool = True) -> list[str]:
    return ["cuda", "cpu"]


@contextlib.contextmanager
def strict_capture() -> Iterator[list[StrictGraph]]:
    """Within this block the engine captures on the CPU into StrictGraphs (yielded as they are made, the train
    step first), and torch's optimizers accept capturable state on the CPU (their CUDA code path)."""
    graphs: list[StrictGraph] = []

    def capture_graph(function):
        graph = StrictGraph()
        graphs.append(graph)
        return graph, graph.capture(function)

    patches = [(engine, "capture_graph", capture_graph), (engine, "device_reason", lambda device: None)]
    patches += [(module, "_get_capturable_supported_devices", _cpu_capturable)
                for name, module in list(sys.modules.items())
                if name.startswith("torch.optim.") and hasattr(module, "_get_capturable_supported_devices")]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    try:
        for owner, name, value in patches:
            setattr(owner, name, value)
        yield graphs
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)
