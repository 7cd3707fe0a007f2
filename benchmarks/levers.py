"""What each speed lever contributes: the fast-reference recipe, adding one lever at a time until it is mnistlab-fast.

Every configuration trains with `mnistlab.fit` on full MNIST on the CPU, seeds interleaved; the figures are
the training seconds (evaluation excluded), the seconds until the test accuracy first reaches 99% (tested ten
times an epoch, as `mnistlab bench` does) and the final test accuracy.
Usage: python benchmarks/levers.py [--seeds 3] [--threads 1] [--out levers.json]
"""
from __future__ import annotations

import argparse
import math
import statistics

import torch

from mnistlab import build_model, fit, load_dataset, make_splits
from mnistlab.bench import first_reaching, steps_between_evals
from mnistlab.models import pool_before_activation
from mnistlab.train.recipes import RECIPES

FAST, PUBLISHED = RECIPES["fast"], RECIPES["fast-reference"]
REFERENCE = dict(PUBLISHED.train, device="cpu")
# Each lever's fit options are the previous lever's plus one change (replacing REFERENCE's).
CHANNELS_LAST = dict(channels_last=True)
BF16 = dict(CHANNELS_LAST, precision="bf16")
SMOOTHED = dict(BF16, label_smoothing=FAST.train["label_smoothing"])
SHAPED = dict(SMOOTHED, schedule_options=FAST.train["schedule_options"])
# (name, model spec, relu behind the pool as published?, fit options)
LEVERS = [
    ("fast-reference (fp32, contiguous)", PUBLISHED.model, True, {}),
    ("+ channels_last", PUBLISHED.model, True, CHANNELS_LAST),
    ("+ bf16 autocast", PUBLISHED.model, True, BF16),
    ("+ stride-2 first conv", "c24k5s2 c32k3 m2 f256", False, BF16),
    ("+ label smoothing 0.1", "c24k5s2 c32k3 m2 f256", False, SMOOTHED),
    ("+ one-cycle: 20% warm-up, linear", "c24k5s2 c32k3 m2 f256", False, SHAPED),
    ("+ crop2 (24x24 input)", FAST.model, False, SHAPED),
    ("+ 0.8 epoch = mnistlab-fast", FAST.model, False, dict(FAST.train, precision="bf16")),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    mnist = load_dataset("mnist")
    splits = make_splits(mnist, "standard")
    every = steps_between_evals(mnist, REFERENCE["batch_size"], 10)
    for _, spec, _, options in LEVERS:  # untimed: builds the kernels every configuration uses
        fit(build_model(spec), splits, **{**REFERENCE, **options, "max_steps": 3})
    rows = {name: [] for name, *_ in LEVERS}
    for seed in range(args.seeds):
        for name, spec, pool_first, options in LEVERS:
            net = build_model(spec, head="log_softmax" if pool_first else "logits", seed=seed)
            run = fit(pool_before_activation(net) if pool_first else net, splits, seed=seed, eval_every=every,
                      **{**REFERENCE, **options})
            reached = first_reaching(run.extras["evals"], 0.99)
            hit = math.inf if reached is None else reached["seconds"]
            rows[name].append((sum(r["seconds"] for r in run.history), hit, run.final["test_accuracy"]))
            print(f"{name:36s} seed {seed}  {rows[name][-1][0]:6.2f} s  to 99% {hit:6.2f} s  "
                  f"{100 * rows[name][-1][2]:.2f}%", flush=True)
    base = statistics.median(s for s, _, _ in rows[LEVERS[0][0]])
    table = []
    for name, r in rows.items():
        to99 = statistics.median(h for _, h, _ in r)
        table.append({"configuration": name, "median_train_s": round(statistics.median(s for s, _, _ in r), 2),
                      "speedup_vs_reference": round(base / statistics.median(s for s, _, _ in r), 2),
                      "median_time_to_99_s": None if math.isinf(to99) else round(to99, 2),
                      "runs_reaching_99": sum(not math.isinf(h) for _, h, _ in r),
                      "mean_accuracy": round(statistics.fmean(a for _, _, a in r), 4)})
    print(f"\n{'configuration':36s}{'median s':>10}{'speedup':>9}{'to 99% s':>10}{'reached':>9}{'mean acc':>10}"
          f"  ({torch.get_num_threads()} threads)")
    for t in table:
        to99 = "-" if t["median_time_to_99_s"] is None else f"{t['median_time_to_99_s']:.2f}"
        print(f"{t['configuration']:36s}{t['median_train_s']:>10.2f}{t['speedup_vs_reference']:>8.2f}x{to99:>10}"
              f"{t['runs_reaching_99']:>7}/{args.seeds}{100 * t['mean_accuracy']:>9.2f}%")
    if args.out:
        from mnistlab.fileio import write_json

        write_json(args.out, {"threads": torch.get_num_threads(), "torch": torch.__version__, "levers": table})


if __name__ == "__main__":
    main()
