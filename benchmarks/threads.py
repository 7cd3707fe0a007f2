"""--threads under a busy neighbour: `mnistlab train` (the default recipe, full MNIST) on a quiet machine and beside
one spinning process that this script starts and stops itself, at 1 thread, 2 threads (torch's default before
`auto`), 2 threads with OpenMP's passive wait policy, and `auto`.

Targets (issue 20): beside one busy competitor on 2 cores, `auto` (the default) is <= 1.5x the single-thread
time; on a quiet machine, `auto` is no slower than 2 threads. Ratios come from runs in the same invocation.

Usage: MNISTLAB_DATA=../shared/data python benchmarks/threads.py [--recipe default] [--repeats 2] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VARIANTS = {"1": ("1", {}), "2": ("2", {}), "2-passive": ("2", {"OMP_WAIT_POLICY": "PASSIVE"}), "auto": ("auto", {})}
SPIN = "while True: pass"


def train(recipe: str, threads: str, env: dict, out: Path) -> dict:
    """One `mnistlab train` in a fresh process (the wait policy is read when OpenMP starts): its training
    seconds and the whole command's wall time."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")} | env
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "mnistlab.cli", "train", "--recipe", recipe, "--threads", threads,
                           "--out", str(out), "--json"], env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    result = json.loads(done.stdout)
    return {"train_s": round(result["train_seconds"], 3), "wall_s": round(wall, 3),
            "threads_used": result["train"].get("threads"), "accuracy": result["final"]["test_accuracy"]}


def measure(recipe: str, repeats: int, busy: bool, folder: Path) -> dict:
    competitor = subprocess.Popen([sys.executable, "-c", SPIN]) if busy else None
    try:
        time.sleep(1.0 if busy else 0.0)  # let the spinner settle on a core
        runs = {name: [train(recipe, t, env, folder / f"{name}-{busy}-{i}") for i in range(repeats)]
                for name, (t, env) in VARIANTS.items()}
    finally:
        if competitor is not None:
            competitor.kill()
            competitor.wait()
    return {name: {"median_train_s": statistics.median(r["train_s"] for r in rs),
                   "median_wall_s": statistics.median(r["wall_s"] for r in rs), "runs": rs} for name, rs in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", default="default")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", help="also write the JSON report here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report = {"recipe": args.recipe, "cores": len(os.sched_getaffinity(0)), "repeats": args.repeats,
                  "quiet": measure(args.recipe, args.repeats, False, Path(tmp)),
                  "busy": measure(args.recipe, args.repeats, True, Path(tmp))}
    for load in ("quiet", "busy"):
        one = report[load]["1"]["median_train_s"]
        for row in report[load].values():
            row["ratio_to_1_thread"] = round(row["median_train_s"] / one, 3)
    report["targets"] = {
        "busy: auto <= 1.5x one thread": report["busy"]["auto"]["ratio_to_1_thread"] <= 1.5,
        "quiet: auto no slower than 2 threads (within 10%)":
            report["quiet"]["auto"]["median_train_s"] <= 1.1 * report["quiet"]["2"]["median_train_s"]}
    print(f"{'':8}" + "".join(f"{name:>22}" for name in VARIANTS))
    for load in ("quiet", "busy"):
        print(f"{load:8}" + "".join(f"{r['median_train_s']:>12.2f} s ({r['ratio_to_1_thread']:.2f}x)" for r in report[load].values()))
    for target, met in report["targets"].items():
        print(f"{target}: {'met' if met else 'NOT met'}")
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
