"""The robust recipe's training time against the default recipe's, measured in the same run.

Both recipes train on full MNIST on the CPU (or --device cuda), back to back and interleaved (default, robust, default, robust, ...),
so both see the same machine. The figures are each run's training seconds (the runs' own clock, evaluation
excluded), the process CPU seconds of each `fit` (evaluation included: a check that holds on a shared machine,
where wall time is noisy) and the clean test accuracy; the ratios are of the medians.
Usage: python benchmarks/robust_recipe.py [--rounds 2] [--threads 1] [--device cpu] [--save runs] [--out robust-time.json]
(--save keeps the last round's runs as runs/default and runs/robust, for `mnistlab robustness`)
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from mnistlab import load_dataset
from mnistlab.train.loop import train_recipe

RECIPES = ("default", "robust")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--save")
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    mnist = load_dataset("mnist")
    for name in RECIPES:  # untimed: builds the kernels both use
        train_recipe(name, mnist, device=args.device, max_steps=3)
    rows: dict[str, list[dict]] = {name: [] for name in RECIPES}
    for round_ in range(args.rounds):
        for name in RECIPES:
            cpu = time.process_time()
            run = train_recipe(name, mnist, device=args.device)
            row = {"train_s": round(sum(h["seconds"] for h in run.history), 2), "cpu_s": round(time.process_time() - cpu, 2),
                   "test_accuracy": run.final["test_accuracy"]}
            rows[name].append(row)
            print(f"round {round_}  {name:8s} {row['train_s']:7.2f} s training  {row['cpu_s']:7.2f} s CPU  "
                  f"{100 * row['test_accuracy']:.2f}%", flush=True)
            if args.save and round_ == args.rounds - 1:
                run.save(Path(args.save) / name)
    median = {name: {k: statistics.median(r[k] for r in rows[name]) for k in ("train_s", "cpu_s", "test_accuracy")}
              for name in RECIPES}
    ratio = {k: round(median["robust"][k] / median["default"][k], 2) for k in ("train_s", "cpu_s")}
    print(f"robust / default: {ratio['train_s']}x training seconds, {ratio['cpu_s']}x CPU seconds "
          f"(medians of {args.rounds}, {torch.get_num_threads()} thread(s))")
    if args.out:
        Path(args.out).write_text(json.dumps({"rounds": rows, "median": median, "ratio": ratio,
                                              "threads": torch.get_num_threads()}, indent=1) + "\n")


if __name__ == "__main__":
    main()
