"""The NumPy engine's targets (issue 30): the default recipe in NumPy against PyTorch eager, in the same run.

For every seed, `scratch compare` trains the default recipe's network in NumPy and then in PyTorch (eager, fp32,
the same initial weights, batches and schedule, the same threads) on full MNIST, and records both test
accuracies, both engines' training seconds per epoch (testing excluded), their ratio and where the NumPy time
went. The targets: NumPy >= 99.0% test accuracy within 60 s of training for every seed, and seconds per epoch
within 3x of PyTorch's. The load average at start and end is recorded: on a shared machine the absolute
seconds are inflated, the ratio (measured back to back) much less so.
Usage: MNISTLAB_DATA=<folder with mnist/> python benchmarks/scratch_engine.py [--seeds 0,1,2] [--threads 1]
       [--out benchmarks/results/scratch-engine.json]
"""
from __future__ import annotations

import argparse
import json
import os

from mnistlab import load_dataset
from mnistlab.scratch.compare import compare
from mnistlab.scratch.recipes import scratch_plan
from mnistlab.threads import resolve_threads

TARGET_ACCURACY, TARGET_SECONDS, TARGET_RATIO = 0.99, 60.0, 3.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--threads", default="auto", help="NumPy's BLAS and torch's threads: auto or a count")
    parser.add_argument("--out")
    args = parser.parse_args()
    threads = resolve_threads(args.threads if args.threads == "auto" else int(args.threads))
    mnist = load_dataset("mnist")
    load_before, rows = os.getloadavg(), []
    for seed in (int(s) for s in args.seeds.split(",")):
        result = compare(mnist, scratch_plan("default", len(mnist.train_labels), seed=seed), threads)
        ours, theirs = result["numpy"], result["torch"]
        rows.append({"seed": seed, "numpy_test_accuracy": ours["test_accuracy"], "numpy_train_s": ours["train_seconds"],
                     "numpy_s_per_epoch": ours["seconds_per_epoch"], "torch_test_accuracy": theirs["test_accuracy"],
                     "torch_s_per_epoch": theirs["seconds_per_epoch"], "ratio": result["seconds_per_epoch_ratio"],
                     "max_loss_difference": result["loss_difference"]["max"], "numpy_time_split": ours["time_split"],
                     "blas": result["blas"]})
        r = rows[-1]
        print(f"seed {seed}: NumPy {100 * r['numpy_test_accuracy']:.2f}% in {r['numpy_train_s']:.1f} s "
              f"({r['numpy_s_per_epoch']:.1f} s/epoch), PyTorch {100 * r['torch_test_accuracy']:.2f}% "
              f"({r['torch_s_per_epoch']:.1f} s/epoch), ratio {r['ratio']:.2f}x", flush=True)
    met = {"accuracy": all(r["numpy_test_accuracy"] >= TARGET_ACCURACY for r in rows),
           "seconds": all(r["numpy_train_s"] <= TARGET_SECONDS for r in rows),
           "ratio": all(r["ratio"] <= TARGET_RATIO for r in rows)}
    report = {"threads": threads, "load_average_before": load_before, "load_average_after": os.getloadavg(),
              "cpus": os.cpu_count(), "runs": rows, "targets_met": met}
    print(f"load average {load_before[0]:.1f} -> {report['load_average_after'][0]:.1f} on {os.cpu_count()} CPUs; "
          f"{threads} thread(s); targets met: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in met.items()))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
