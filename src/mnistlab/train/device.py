"""Where training runs: the device, its precision, thread count, and a clock that waits for it."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial, wraps

from ..errors import UserError, named
from ..lazy import lazy_module
from ..threads import resolve_threads
from .choices import DEVICES

torch = lazy_module("torch")  # worker_process and the device names are read by modules --help loads


def set_threads(threads: int | str | None = "auto") -> int:
    """Set torch's CPU threads: a count, or `auto` (None too) for the cores nothing else is busy on
    (`mnistlab.threads`); one thread beats two on oversubscribed cores. Returns the count set."""
    if isinstance(threads, int) and threads < 1:
        raise UserError(f"{named('threads', threads)}: must be at least 1")
    count = resolve_threads(threads)
    torch.set_num_threads(count)
    return count


_MANAGED = [0]  # commands, workers and entry-point calls running in this process: they have set the threads


def managed() -> bool:
    """Whether a command, a worker or a library entry point further up has set torch's threads already."""
    return _MANAGED[0] > 0


def worker_process() -> None:
    """Mark this process as a worker whose thread count its executor set (sweep and experiment workers): the
    library entry points it calls keep that count."""
    _MANAGED[0] += 1


@contextmanager
def managed_scope() -> Iterator[None]:
    """While a command runs: the library entry points it calls leave the threads and the progress to it."""
    _MANAGED[0] += 1
    try:
        yield
    finally:
        _MANAGED[0] -= 1


@contextmanager
def call_threads(threads: int | str | None = None) -> Iterator[None]:
    """The thread policy of a library entry point (fit, fit_many, cross_validate): `threads` (a count or `auto`)
    for the call, then the caller's count back. None: `auto`, the command line's default, when called from a
    script or notebook (two threads beside a busy process ran an epoch 3-30x slower than one); the count already
    set when called inside a command, a worker or another entry point."""
    if threads is None and managed():
        yield
        return
    with threads_set("auto" if threads is None else threads), managed_scope():
        yield


def entry_point(function: Callable) -> Callable:
    """A library entry point taking `threads=` (a count, `auto`, or None: see `call_threads`)."""
    @wraps(function)
    def call(*args, threads: int | str | None = None, **kwargs):
        with call_threads(threads):
            return function(*args, **kwargs)

    return call


@contextmanager
def threads_set(threads: int | str | None = "auto") -> Iterator[int]:
    """`set_threads` for the length of a command, then the caller's count back: main() and fit() run inside
    notebooks, scripts and test sessions, whose thread count is theirs (a test left at one thread by the
    command before it ran its numbers at another thread count than when run alone)."""
    previous = torch.get_num_threads()
    try:
        yield set_threads(threads)
    finally:
        torch.set_num_threads(previous)


def resolve_device(name: str) -> torch.device:
    """`auto` picks CUDA, then MPS, then the CPU; an unavailable device is a user error."""
    if name not in DEVICES:
        raise UserError(f"unknown device {name!r}; choose one of: {', '.join(DEVICES)}")
    cuda, mps = torch.cuda.is_available(), getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    if name == "auto":
        name = "cuda" if cuda else "mps" if mps else "cpu"
    if (name == "cuda" and not cuda) or (name == "mps" and not mps):
        raise UserError(f"{named('device', name)}: not available on this machine; use {named('device', 'auto')} or cpu")
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


def resolve_precision(precision: str, device: torch.device, is_cnn: bool) -> str:
    """`auto`: bf16 for CNNs where the device computes bf16 natively (FFNs gain nothing), else fp32."""
    if precision == "auto":
        return "bf16" if is_cnn and fast_bf16(device) else "fp32"
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
