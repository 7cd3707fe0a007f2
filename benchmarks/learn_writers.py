"""Learning other writers' digits: fine-tune runs on a few digits of the kept-aside writers and score the rest.

The kept-aside writers (robustness/writers.py: 1,797 digits by 43 writers outside MNIST, scanned at 8x8, through
predict's preparation) stand in for a user's own hand: `--per-class` digits of each class are saved as an image
folder, the layout `serve --digits` writes, and each run is fine-tuned on them mixed with MNIST exactly as
`mnistlab finetune RUN FOLDER` does. Printed per run: the other digits of those writers (never trained on) and
the MNIST test set, before and after.
Usage: python benchmarks/learn_writers.py RUN [RUN ...] [--per-class 10] [--seed 0] [--device cpu] [--out learn.json]
(needs full MNIST and scikit-learn)
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from mnistlab import load_dataset
from mnistlab.robustness.writers import other_writers
from mnistlab.train.finetune import FineTune, finetune
from mnistlab.train.run import load_run, run_accuracy


def save_folder(images: np.ndarray, labels: np.ndarray, folder: Path) -> None:
    for i, (image, label) in enumerate(zip(images, labels)):
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / str(label) / f"{i}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--per-class", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dataset", default="mnist", help="the data mixed in and its test set (mnist-sample for a check)")
    parser.add_argument("--out")
    args = parser.parse_args()
    writers = other_writers()
    if writers is None:
        raise SystemExit("the kept-aside writers need scikit-learn: pip install 'mnistlab[embedding]'")
    images, labels = writers
    rng = np.random.default_rng(args.seed)
    take = np.concatenate([rng.choice(np.flatnonzero(labels == d), args.per_class, replace=False) for d in range(10)])
    rest = np.setdiff1d(np.arange(len(labels)), take)
    base, rows = load_dataset(args.dataset), []
    print(f"fine-tuned on {len(take)} digits of the kept-aside writers ({args.per_class} per class), "
          f"scored on their other {len(rest):,}")
    with tempfile.TemporaryDirectory() as tmp:
        save_folder(images[take], labels[take], Path(tmp))
        for run_dir in args.runs:
            tuned, record = finetune(run_dir, tmp, base, FineTune(seed=args.seed, device=args.device))
            other = {"before": run_accuracy(load_run(run_dir), images[rest], labels[rest])[0],
                     "after": run_accuracy(tuned, images[rest], labels[rest])[0]}
            rows.append({"run_dir": run_dir, "other_digits": other, "test_set": {k: record[k]["mnist"] for k in ("before", "after")}})
            print(f"{run_dir}: other digits {100 * other['before']:.2f}% -> {100 * other['after']:.2f}%   "
                  f"{args.dataset} test set {100 * record['before']['mnist']:.2f}% -> {100 * record['after']['mnist']:.2f}%", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps({"per_class": args.per_class, "seed": args.seed, "runs": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
