"""Kernels per captured training step: what one CUDA-graph replay launches, counted on the CPU.

Each workload runs the engine's real capture path under the strict graph check (mnistlab.train.graphcheck), with
the precision it gets on a CUDA device with bf16 (CNNs in bf16 autocast, FFNs in fp32), and counts the aten ops
of the captured step that are not views or allocations: on a GPU each is about one kernel launch, and a
replayed step costs about its launches (measured on an H100, docs/benchmarks.md). Counts are deterministic; no timing is involved.
Usage: python benchmarks/kernels.py [--json]
"""
from __future__ import annotations

import argparse
import json

from mnistlab import build_model, fit, load_dataset, make_splits
from mnistlab.experiments.optimizers import OPTIMIZERS, RATES
from mnistlab.experiments.settings import L5_MODEL, L5_TRAIN, LECTURE_TRAIN
from mnistlab.train.engine import WARMUP_STEPS
from mnistlab.train.graphcheck import strict_capture
from mnistlab.train.loop import train_recipe
from mnistlab.train.many import fit_many

TARGETS = {"fast": 60, "ffn": 25, "best": 120, "fit_many_k18": 60}  # the engine issue's
BUDGETS = TARGETS  # what tests/test_graphcheck.py holds each captured step to
STEPS = WARMUP_STEPS + 3  # warm-up, capture, two checked replays


def captured_step(train) -> int:
    """Kernels of the step `train()` captures, after checking its replays."""
    with strict_capture() as graphs:
        train()
    return graphs[0].kernels


def fast(data) -> int:
    return captured_step(lambda: train_recipe("fast", data, device="cpu", precision="bf16", capture="on", max_steps=STEPS))


def best(data) -> int:
    return captured_step(lambda: train_recipe("best", data, device="cpu", precision="bf16", capture="on", max_steps=STEPS))


def ffn(data) -> int:
    splits = make_splits(data, val=0, train_size=L5_TRAIN["batch_size"] * (STEPS + 1))
    model = build_model(**L5_MODEL)
    return captured_step(lambda: fit(model, splits, **{**L5_TRAIN, **LECTURE_TRAIN, "epochs": 1}, device="cpu",
                                     capture="on"))


def many(data, k: int | None = None) -> int:
    """fit_many as the optimizers experiment runs it (K = 18: three optimizers at six rates), or with the first k."""
    settings = [(name, lr) for name in OPTIMIZERS for lr in RATES][:k]
    splits = make_splits(data, val=0, train_size=L5_TRAIN["batch_size"] * (STEPS + 1))
    models = [build_model(**L5_MODEL) for _ in settings]
    return captured_step(lambda: fit_many(models, splits, settings, epochs=1, batch_size=L5_TRAIN["batch_size"],
                                          drop_last=True, device="cpu", capture="on"))


def count_all() -> dict[str, int]:
    data = load_dataset("mnist-sample")
    return {"fast": fast(data), "ffn": ffn(data), "best": best(data), "fit_many_k18": many(data)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the counts as one JSON object")
    args = parser.parse_args()
    counts = count_all()
    if args.json:
        print(json.dumps(counts))
        return
    print(f"{'step':<14}{'kernels':>8}{'target':>8}")
    for name, n in counts.items():
        print(f"{name:<14}{n:>8}{'<= ' + str(TARGETS[name]):>8}  {'met' if n <= TARGETS[name] else 'NOT MET'}")


if __name__ == "__main__":
    main()
