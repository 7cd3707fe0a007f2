"""Whole-command time of `mnistlab train` in a fresh process, data loading excluded (the cold-start target).

Usage: python benchmarks/cold_start.py --device cuda --out results/gpu-cold-start.json [-- extra train options]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--recipe", default="fast")
    parser.add_argument("--out", required=True)
    parser.add_argument("extra", nargs="*")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "mnistlab.cli", "train", "--recipe", args.recipe, "--device", args.device,
                   "--json", "--out", str(Path(tmp) / "run"), *args.extra]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - start
    result = json.loads(done.stdout)
    report = {"command": command[1:], "wall_s": round(wall, 3), **result["timing"],
              "wall_without_data_s": round(wall - result["timing"]["data_s"], 3),
              "test_accuracy": result["final"]["test_accuracy"], "train_seconds": result["train_seconds"],
              "capture": result["train"]["capture"], "capture_s": result["train"]["capture_s"],
              "device": result["train"]["device"]}
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
