"""Calibration of the default and robust recipes: what holding images aside costs, the temperature, the ECE before and
after, where the unsure threshold comes from, and how often digits and non-digits are marked unsure.

For each recipe and seed on full MNIST: one run as the recipe trains it (1/12 of the training images held aside and
its temperature fitted on them) and one on all 60,000 (no temperature), for the accuracy the held-aside images cost.
The threshold table is measured on the validation splits (the images the temperature was fitted on); the test set
and the drawn non-digits (robustness/nondigits.py, never used to choose anything) are only reported.
Usage: python benchmarks/calibration.py [--seeds 0,1,2] [--threads 1] [--save runs] [--out calibration.json]
(--save keeps the first seed's runs as runs/default and runs/robust)
The figure of docs/robustness.md, from saved runs (no training):
python benchmarks/calibration.py --figure docs/img/robustness/calibration.png --runs runs/default runs/robust
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch

from mnistlab import load_dataset
from mnistlab.calibration import UNSURE_BELOW, softmax, unsure
from mnistlab.fileio import save_figure
from mnistlab.plots.robustness import calibration, drawings
from mnistlab.robustness.calibration import answers_on_drawings, calibration_numbers
from mnistlab.train import load_run
from mnistlab.train.loop import fit
from mnistlab.train.metrics import outputs_of, to_logits
from mnistlab.train.recipes import Choices, prepare

RECIPES = ("default", "robust")
THRESHOLDS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def threshold_table(run, splits) -> list[dict]:
    """Per threshold, on the validation split: the share of right answers kept sure and of wrong ones caught."""
    logits = to_logits(outputs_of(run.model, splits.x_val), run.model.config.head).cpu().numpy()
    labels = splits.y_val.cpu().numpy()
    probs = softmax(logits, run.temperature)
    right = probs.argmax(1) == labels
    return [{"below": t, "right_kept_sure": float((~unsure(probs, t) & right).sum() / right.sum()),
             "wrong_caught": float((unsure(probs, t) & ~right).sum() / max((~right).sum(), 1)), "wrong": int((~right).sum())}
            for t in THRESHOLDS]


def one(name: str, mnist, seed: int, save: str | None) -> dict:
    splits, model = prepare(name, mnist, seed=seed, device="cpu")
    run = fit(model, splits, recipe=name, seed=seed, device="cpu")
    numbers = calibration_numbers(run, mnist.test_images, mnist.test_labels, seed=seed)
    whole, model = prepare(name, mnist, Choices(val=0), seed=seed, device="cpu")
    everything = fit(model, whole, recipe=name, seed=seed, device="cpu")
    if save:
        run.save(Path(save) / name)
    u = numbers["unsure"]
    row = {"seed": seed, "test_accuracy": run.final["test_accuracy"], "test_accuracy_all_60000": everything.final["test_accuracy"],
           "calibration": run.calibration, "ece_before": numbers["before"]["ece"], "ece_after": numbers["after"]["ece"],
           "thresholds": threshold_table(run, splits),
           "unsure": {"digits": u["digits"]["unsure"], "digits_right": u["digits"]["unsure_right"],
                      "digits_wrong": u["digits"]["unsure_wrong"], "nondigits": u["nondigits"]["unsure"],
                      "by_kind": u["nondigits"]["by_kind"]}}
    print(f"{name:8s} seed {seed}: {100 * row['test_accuracy']:.2f}% ({100 * row['test_accuracy_all_60000']:.2f}% on all "
          f"60,000)  T {run.temperature:.3f}  test ECE {100 * row['ece_before']:.2f}% -> {100 * row['ece_after']:.2f}%  "
          f"unsure: digits {100 * row['unsure']['digits']:.1f}%, non-digits {100 * row['unsure']['nondigits']:.1f}%", flush=True)
    return row


def summary(rows: list[dict]) -> dict:
    mean = lambda f: statistics.mean(f(r) for r in rows)  # noqa: E731
    return {"test_accuracy": mean(lambda r: r["test_accuracy"]), "test_accuracy_all_60000": mean(lambda r: r["test_accuracy_all_60000"]),
            "temperature": mean(lambda r: r["calibration"]["temperature"]), "ece_before": mean(lambda r: r["ece_before"]),
            "ece_after": mean(lambda r: r["ece_after"]), "unsure_digits": mean(lambda r: r["unsure"]["digits"]),
            "unsure_nondigits": mean(lambda r: r["unsure"]["nondigits"]),
            "thresholds": [{"below": t["below"], **{k: statistics.mean(r["thresholds"][i][k] for r in rows)
                                                    for k in ("right_kept_sure", "wrong_caught")}}
                           for i, t in enumerate(rows[0]["thresholds"])]}


def figure(paths: list[str], out: str) -> None:
    """The reliability diagrams and the unsure histograms of saved runs on the full MNIST test set."""
    mnist = load_dataset("mnist")
    results = [calibration_numbers(load_run(p), mnist.test_images, mnist.test_labels) for p in paths]
    save_figure(calibration(results, [Path(p).name for p in paths]), out)
    run = load_run(paths[0])
    shown = save_figure(drawings(answers_on_drawings(run, 24), f"{Path(paths[0]).name}: drawn letters, doodles and faces, "
                                                          f"and its answers (unsure below {UNSURE_BELOW:.0%})"),
                        Path(out).with_name("nondigits.png"))
    for path, r in zip(paths, results):
        u = r["unsure"]
        print(f"{path}: T {r['temperature']:.3f}, test ECE {100 * r['before']['ece']:.2f}% -> {100 * r['after']['ece']:.2f}%, "
              f"unsure: digits {100 * u['digits']['unsure']:.2f}%, non-digits {100 * u['nondigits']['unsure']:.1f}% "
              f"({', '.join(f'{k} {100 * v:.1f}%' for k, v in u['nondigits']['by_kind'].items())})")
    print(out, shown)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--save")
    parser.add_argument("--out")
    parser.add_argument("--figure", help="draw the calibration figure of --runs to this file instead of training")
    parser.add_argument("--runs", nargs="+", default=["runs/default", "runs/robust"])
    args = parser.parse_args()
    if args.figure:
        return figure(args.runs, args.figure)
    if args.threads:
        torch.set_num_threads(args.threads)
    mnist = load_dataset("mnist")
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = {name: [one(name, mnist, s, args.save if s == seeds[0] else None) for s in seeds] for name in RECIPES}
    means = {name: summary(r) for name, r in rows.items()}
    for name, m in means.items():
        print(f"{name}: mean of {len(seeds)} seeds: {100 * m['test_accuracy']:.2f}% ({100 * m['test_accuracy_all_60000']:.2f}% "
              f"on all 60,000), T {m['temperature']:.3f}, ECE {100 * m['ece_before']:.2f}% -> {100 * m['ece_after']:.2f}%, "
              f"unsure below {UNSURE_BELOW}: digits {100 * m['unsure_digits']:.1f}%, non-digits {100 * m['unsure_nondigits']:.1f}%")
        for t in m["thresholds"]:
            print(f"  below {t['below']:.2f}: right answers kept sure {100 * t['right_kept_sure']:.2f}%, "
                  f"wrong ones caught {100 * t['wrong_caught']:.1f}% (validation splits)")
    if args.out:
        Path(args.out).write_text(json.dumps({"seeds": seeds, "unsure_below": UNSURE_BELOW, "runs": rows, "mean": means,
                                              "threads": torch.get_num_threads()}, indent=1) + "\n")


if __name__ == "__main__":
    main()
