"""5-fold cross-validation of the default recipe against one run of it: wall time of the whole command.

Runs `mnistlab train` once, then `mnistlab train --folds K`, then the single run again (the reference is the
mean of the two, so a machine whose load changes during the benchmark shows in `one_run_s`). Target: the
K-fold command takes at most 4x one run. Usage:
  python benchmarks/cv.py --out benchmarks/results/cpu-cv.json [--folds 5] [-- extra train options]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 4.0


def timed(command: list[str]) -> tuple[float, dict]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    print(f"{seconds:.1f} s: {' '.join(command[3:])}", file=sys.stderr, flush=True)
    return seconds, json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--out", required=True)
    parser.add_argument("extra", nargs="*")
    args = parser.parse_args()
    train = [sys.executable, "-m", "mnistlab.cli", "train", "--json", *args.extra]
    with tempfile.TemporaryDirectory() as tmp:
        first, one = timed([*train, "--out", str(Path(tmp) / "one")])
        cv_s, cv = timed([*train, "--folds", str(args.folds), "--out", str(Path(tmp) / "cv")])
        second, _ = timed([*train, "--out", str(Path(tmp) / "two")])
    one_s = (first + second) / 2
    report = {"command": train[3:], "folds": args.folds, "one_run_s": [round(first, 2), round(second, 2)],
              "cv_s": round(cv_s, 2), "ratio": round(cv_s / one_s, 2), "target": TARGET, "met": cv_s / one_s <= TARGET,
              "one_run_test_accuracy": one["final"]["test_accuracy"], "mean_val_accuracy": cv["mean_val_accuracy"],
              "std_val_accuracy": cv["std_val_accuracy"], "trained_together": cv["trained_together"],
              "threads": os.environ.get("OMP_NUM_THREADS", "torch default"), "cpus": os.cpu_count(),
              "load_average": os.getloadavg()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
