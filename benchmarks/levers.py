"""What each speed lever contributes: one epoch of the fast-reference recipe, adding one lever at a time.

Every configuration trains with `mnistlab.fit` on full MNIST on the CPU, seeds interleaved; the figure is
the training seconds of the epoch (evaluation excluded) and the final test accuracy.
Usage: python benchmarks/levers.py [--seeds 3] [--threads 1] [--out levers.json]
"""
from __future__ import annotations

import argparse
import json
import statistics

import torch

from mnistlab import build_model, fit, load_dataset, make_splits
from mnistlab.bench import pool_before_activation
from mnistlab.train.recipes import RECIPES

REFERENCE = dict(epochs=1, batch_size=256, optimizer="adam", lr=1e-2, optimizer_options={"betas": (0.7, 0.9)},
                 schedule="onecycle", device="cpu")
# (name, model spec, relu behind the pool as published?, fit options beyond REFERENCE)
LEVERS = [
    ("fast-reference (fp32, contiguous)", "c24k5 m2 c32k3 m2 f256", True, dict(precision="fp32", channels_last=False)),
    ("+ channels_last", "c24k5 m2 c32k3 m2 f256", True, dict(precision="fp32", channels_last=True)),
    ("+ bf16 autocast", "c24k5 m2 c32k3 m2 f256", True, dict(precision="bf16", channels_last=True)),
    ("+ stride-2 first conv = mnistlab-fast", RECIPES["fast"].model, False, dict(precision="bf16", channels_last=True)),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    splits = make_splits(load_dataset("mnist"), "standard")
    rows = {name: [] for name, *_ in LEVERS}
    for seed in range(args.seeds):
        for name, spec, pool_first, options in LEVERS:
            net = build_model(spec, head="log_softmax", seed=seed)
            run = fit(pool_before_activation(net) if pool_first else net, splits, seed=seed, **REFERENCE, **options)
            rows[name].append((run.history[0]["seconds"], run.final["test_accuracy"]))
            print(f"{name:40s} seed {seed}  {rows[name][-1][0]:7.2f} s  {100 * rows[name][-1][1]:.2f}%", flush=True)
    base = statistics.median(s for s, _ in rows[LEVERS[0][0]])
    table = [{"configuration": name, "median_train_s": round(statistics.median(s for s, _ in r), 2),
              "speedup_vs_reference": round(base / statistics.median(s for s, _ in r), 2),
              "mean_accuracy": round(statistics.fmean(a for _, a in r), 4)} for name, r in rows.items()]
    print(f"\n{'configuration':40s}{'median s':>10}{'speedup':>9}{'mean acc':>10}  ({torch.get_num_threads()} threads)")
    for t in table:
        print(f"{t['configuration']:40s}{t['median_train_s']:>10.2f}{t['speedup_vs_reference']:>8.2f}x{100 * t['mean_accuracy']:>9.2f}%")
    if args.out:
        from mnistlab.fileio import write_json

        write_json(args.out, {"threads": torch.get_num_threads(), "torch": torch.__version__, "levers": table})


if __name__ == "__main__":
    main()
