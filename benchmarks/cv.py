"""5-fold cross-validation of the default recipe against one run of it: time of the whole command.

Runs `mnistlab train` once, then `mnistlab train --folds K`, then the single run again (the reference is the
mean of the two). Each command's wall time and CPU time (user + system of the child process) are reported;
on a machine shared with other jobs the wall times swing with their load and the CPU-time ratio is the one
to read (with one thread, wall time equals CPU time on a quiet machine). Target: the K-fold command takes at
most 4x one run. Usage:
  python benchmarks/cv.py --out benchmarks/results/cpu-cv.json [--folds 5] [-- extra train options]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 4.0


def cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str]) -> tuple[float, float, dict]:
    """Wall seconds, CPU seconds and the --json output of one command."""
    start, cpu = time.perf_counter(), cpu_of_children()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    seconds, cpu = time.perf_counter() - start, cpu_of_children() - cpu
    print(f"{seconds:.1f} s wall, {cpu:.1f} s CPU: {' '.join(command[3:])}", file=sys.stderr, flush=True)
    return seconds, cpu, json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--out", required=True)
    parser.add_argument("extra", nargs="*")
    args = parser.parse_args()
    train = [sys.executable, "-m", "mnistlab.cli", "train", "--json", *args.extra]
    with tempfile.TemporaryDirectory() as tmp:
        first, first_cpu, one = timed([*train, "--out", str(Path(tmp) / "one")])
        cv_s, cv_cpu, cv = timed([*train, "--folds", str(args.folds), "--out", str(Path(tmp) / "cv")])
        second, second_cpu, _ = timed([*train, "--out", str(Path(tmp) / "two")])
    one_s, one_cpu = (first + second) / 2, (first_cpu + second_cpu) / 2
    report = {"command": train[3:], "folds": args.folds, "one_run_wall_s": [round(first, 2), round(second, 2)],
              "cv_wall_s": round(cv_s, 2), "wall_ratio": round(cv_s / one_s, 2),
              "one_run_cpu_s": [round(first_cpu, 2), round(second_cpu, 2)], "cv_cpu_s": round(cv_cpu, 2),
              "cpu_ratio": round(cv_cpu / one_cpu, 2), "target": TARGET, "met_in_cpu_time": cv_cpu / one_cpu <= TARGET,
              "one_run_test_accuracy": one["final"]["test_accuracy"], "mean_val_accuracy": cv["mean_val_accuracy"],
              "std_val_accuracy": cv["std_val_accuracy"], "trained_together": cv["trained_together"],
              "threads": os.environ.get("OMP_NUM_THREADS", "torch default"), "cpus": os.cpu_count(),
              "load_average": os.getloadavg()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
