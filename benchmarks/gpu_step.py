"""What a captured step costs on a GPU, beside the kernels it launches (benchmarks/kernels.py), and what its
precision buys: the fast recipe in fp32, fp32 with TF32 matmuls and convolutions, and bf16 autocast, each to 99%.

Per configuration: kernels per step (counted on the CPU), the median training seconds per replayed step (a run's
training clock less its capture, over its steps after the capture), the median time to 99% and the accuracy.
Seeds are interleaved across configurations; all runs share one captured step per configuration
(train/reuse.py), so capture time is paid once and reported apart.
Usage: python benchmarks/gpu_step.py [--seeds 5] [--out gpu-step.json]   (needs CUDA and full MNIST)
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

from mnistlab import load_dataset
from mnistlab.bench import first_reaching, steps_between_evals
from mnistlab.train.engine import StepPlan
from mnistlab.train.loop import train_recipe
from mnistlab.train.reuse import reuse_captures

sys.path.insert(0, str(Path(__file__).resolve().parent))
import kernels  # noqa: E402  (this folder's kernel counter)

PRECISIONS = {"fp32": ("fp32", False), "tf32": ("fp32", True), "bf16": ("bf16", False)}


def one_run(data, precision: str, seed: int) -> dict:
    mode, tf32 = PRECISIONS[precision]
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = tf32
    every = steps_between_evals(data, 256, 10)
    run = train_recipe("fast", data, seed=seed, device="cuda", precision=mode, capture="on", eval_every=every)
    steps = StepPlan.of(run.data["n_train"], run.train["batch_size"], run.train["epochs"]).total
    train_s = sum(r["seconds"] for r in run.history)
    reached = first_reaching(run.extras["evals"], 0.99)
    return {"precision": precision, "seed": seed, "capture_s": run.train["capture_s"],
            # a run that took over the graph: capture_s is its one eager step and the takeover; the rest replayed
            "ms_per_step": 1000 * (train_s - run.train["capture_s"]) / max(1, steps - 1),
            "time_to_99_s": None if reached is None else reached["seconds"], "accuracy": run.final["test_accuracy"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", help="write the JSON here too")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("benchmarks/gpu_step.py needs a CUDA device")
    data = load_dataset("mnist")
    counts = kernels.count_all()
    with reuse_captures():
        for precision in PRECISIONS:  # untimed: builds each configuration's kernels and captures its step
            one_run(data, precision, 0)
        runs = [one_run(data, p, seed) for seed in range(args.seeds) for p in PRECISIONS]
    report = {"kernels": counts, "configurations": {}}
    print(f"kernels per captured step: {counts}")
    print(f"{'fast recipe':<12}{'ms/step':>9}{'to 99% s':>10}{'mean acc':>10}{'capture s':>11}")
    for p in PRECISIONS:
        rows = [r for r in runs if r["precision"] == p]
        times = [r["time_to_99_s"] for r in rows if r["time_to_99_s"] is not None]
        summary = {"ms_per_step": statistics.median(r["ms_per_step"] for r in rows),
                   "median_time_to_99_s": statistics.median(times) if len(times) * 2 > len(rows) else None,
                   "mean_accuracy": statistics.fmean(r["accuracy"] for r in rows),
                   "capture_s": [r["capture_s"] for r in rows]}
        report["configurations"][p] = {"summary": summary, "runs": rows}
        to99 = summary["median_time_to_99_s"]
        print(f"{p:<12}{summary['ms_per_step']:>9.3f}{'-' if to99 is None else f'{to99:.3f}':>10}"
              f"{100 * summary['mean_accuracy']:>9.2f}%{max(summary['capture_s']):>11.3f}")
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
