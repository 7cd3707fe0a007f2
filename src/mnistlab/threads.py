"""How many CPU threads torch should use: all the cores this process may run on that nothing else is using.

torch starts one OpenMP thread per core and makes them meet at a barrier after every parallel operation.
When another busy process holds one of two cores, the thread that shares it is descheduled for whole time
slices while its partner waits at the barrier: a step runs many times slower than with one thread (7-18x
measured on a 2-core machine). `auto` counts the cores that are busy right now (a short sample of
/proc/stat, or the load average where there is none) and leaves them out. It reads no torch, so it can run
before torch is imported.
"""
from __future__ import annotations

import argparse
import os
import time

AUTO = "auto"
SAMPLE_S = 0.1  # long enough for 10 scheduler ticks per core, short enough to go unnoticed at start-up


def allowed_cores() -> list[int]:
    """The CPUs this process may run on (its affinity mask), or all of them where there is no mask."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def _cpu_times(cores: list[int]) -> dict[int, tuple[int, int]] | None:
    """(busy, total) jiffies per allowed core from /proc/stat, or None where it cannot be read."""
    try:
        with open("/proc/stat") as f:
            lines = [line.split() for line in f if line.startswith("cpu") and not line.startswith("cpu ")]
    except OSError:
        return None
    times = {}
    for fields in lines:
        core = int(fields[0][3:])
        if core in cores:
            ticks = [int(x) for x in fields[1:]]
            idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
            times[core] = (sum(ticks) - idle, sum(ticks))
    return times or None


def busy_cores(cores: list[int], sample_s: float = SAMPLE_S) -> float:
    """How many of `cores` other processes keep busy: measured over `sample_s` seconds where /proc/stat exists
    (this process sleeps meanwhile, so all of it is others' work), else the 1-minute load average."""
    before = _cpu_times(cores)
    if before is None:
        try:
            return min(float(len(cores)), os.getloadavg()[0])
        except (OSError, AttributeError):
            return 0.0
    time.sleep(sample_s)
    after = _cpu_times(cores) or before
    busy = 0.0
    for core, (b1, t1) in after.items():
        b0, t0 = before.get(core, (b1, t1))
        busy += (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0
    return busy


def auto_threads(sample_s: float = SAMPLE_S) -> int:
    """The allowed cores minus the busy ones (a core counts as busy from 60% of its time on), at least one, and
    never more than $OMP_NUM_THREADS where it is set (the user's own limit, as torch itself reads it)."""
    cores = allowed_cores()
    count = max(1, len(cores) - int(busy_cores(cores, sample_s) + 0.4))
    limit = os.environ.get("OMP_NUM_THREADS", "")
    return min(count, int(limit)) if limit.isdigit() and int(limit) > 0 else count


def resolve_threads(threads: int | str | None) -> int | None:
    """`auto` (or None) becomes a count from `auto_threads`; a count is kept."""
    return auto_threads() if threads in (None, AUTO) else int(threads)


def threads_arg(text: str) -> int | str:
    """An argparse type for --threads: `auto` or a whole number (`set_threads` refuses one below 1)."""
    if text == AUTO:
        return AUTO
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give auto or a whole number of threads") from None
