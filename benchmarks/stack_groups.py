"""breadth-depth's stacked programs: one per depth (every width padded to 250) against `stack_groups`' grouping.

Prints CPU seconds per epoch (one thread, the L5 sample, batch 32) of each depth both ways, the best of
--repeats interleaved runs, and their ratio. Needs full MNIST (MNISTLAB_DATA) for the lecture's sample.
Usage: python benchmarks/stack_groups.py [--epochs 1] [--repeats 2] [--json]
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from mnistlab import build_model, load_dataset
from mnistlab.experiments.settings import L5_MODEL, L5_TRAIN
from mnistlab.experiments.setups import l5_sample, l5_splits
from mnistlab.train import many

WIDTHS, DEPTHS = (50, 100, 150, 200, 250), (1, 2, 3)


def epoch_cpu_seconds(splits, depth: int, epochs: float, grouped: bool) -> tuple[float, list]:
    models = [build_model(" ".join([f"f{w}"] * depth), L5_MODEL["activation"], L5_MODEL["head"], seed=0) for w in WIDTHS]
    plan = many.stack_groups(models, torch.device("cpu")) if grouped else [list(range(len(models)))]
    chosen = many.stack_groups
    many.stack_groups = lambda *_: plan
    try:
        start = time.process_time()
        many.fit_many(models, splits, [(L5_TRAIN["optimizer"], L5_TRAIN["lr"])] * len(models), epochs=epochs,
                      batch_size=L5_TRAIN["batch_size"], drop_last=True, device="cpu", capture="off")
        return (time.process_time() - start) / epochs, [[WIDTHS[k] for k in g] for g in plan]
    finally:
        many.stack_groups = chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    splits = l5_splits(l5_sample(load_dataset("mnist")))
    rows = []
    for depth in DEPTHS:
        one, grouped, plan = [], [], None
        for _ in range(args.repeats):
            one.append(epoch_cpu_seconds(splits, depth, args.epochs, False)[0])
            seconds, plan = epoch_cpu_seconds(splits, depth, args.epochs, True)
            grouped.append(seconds)
        rows.append({"depth": depth, "one_stack_s": round(min(one), 3), "grouped_s": round(min(grouped), 3),
                     "groups": plan, "ratio": round(min(grouped) / min(one), 3)})
    total = {"one_stack_s": round(sum(r["one_stack_s"] for r in rows), 3), "grouped_s": round(sum(r["grouped_s"] for r in rows), 3)}
    total["ratio"] = round(total["grouped_s"] / total["one_stack_s"], 3)
    if args.json:
        print(json.dumps({"depths": rows, "total": total}))
        return
    for r in rows:
        print(f"depth {r['depth']}: one stack {r['one_stack_s']:.2f} s/epoch, grouped {r['groups']} {r['grouped_s']:.2f} s/epoch "
              f"({r['ratio']:.2f}x)")
    print(f"all depths: {total['one_stack_s']:.2f} -> {total['grouped_s']:.2f} CPU s per epoch ({total['ratio']:.2f}x)")


if __name__ == "__main__":
    main()
