"""Numbers read with their boxes: the held-out suite's first number scenes, read by the real `predict --number`.

    MNISTLAB_DATA=... python benchmarks/number_boxes.py RUN [--count 8] [--seed 0] [--out docs/img/robustness/numbers-heldout.png]
        [--json benchmarks/results/number-boxes.json]

Each picture is the held-out generator's "number" scene (picture i is the one the paper suite scores), written to
a file and given to `mnistlab predict RUN FILES --number --json` in a subprocess; the figure draws the boxes and
answers that command printed, green where the whole number was read right, red where not, dashed where a digit
was marked unsure. Without full MNIST (MNISTLAB_DATA) the generator draws the package's sample digits, so the
pictures are not the ones the suite scores. The command's JSON is saved with the labels (--json).
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from mnistlab.fileio import save_figure, write_json
from mnistlab.mpl import agg
from mnistlab.robustness.scene_suite import generators, viewed, write_files


def read_numbers(run: str, paths: list[Path]) -> list[dict]:
    """`predict --number --json`'s predictions for the files, from the installed command."""
    command = shutil.which("mnistlab") or sys.exit("the mnistlab command is not on PATH")
    done = subprocess.run([command, "predict", run, *map(str, paths), "--number", "--json"],
                          capture_output=True, text=True, timeout=600, check=True)
    return json.loads(done.stdout)["predictions"]


def figure(pictures: list, labels: list[str], answers: list[dict]):
    """A grid of the pictures as a viewer shows them, each digit's box and the number read against the truth."""
    # matplotlib: only this figure needs it
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    agg()
    cols = 4
    rows = -(-len(pictures) // cols)
    fig = Figure(figsize=(3.2 * cols, 2.7 * rows))
    for k, (image, label, answer) in enumerate(zip(pictures, labels, answers)):
        ax = fig.add_subplot(rows, cols, k + 1)
        ax.imshow(image)
        read = answer.get("number", "")
        colour = "#1a9e3a" if read == label else "#d62728"
        for digit in answer.get("digits", []):
            x0, y0, x1, y1 = digit["box"]
            ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, lw=1.5, edgecolor=colour,
                                   linestyle="--" if digit.get("unsure") else "-"))
            ax.text(x0, y0 - 3, digit["class"], color=colour, fontsize=9, weight="bold")
        ax.set_title(f"{label}: read {read or '(refused)'}", color=colour, fontsize=10)
        ax.set_axis_off()
    fig.suptitle("held-out number scenes, boxes and answers from `mnistlab predict RUN FILE --number --json`"
                 " (dashed: unsure)", fontsize=10)
    fig.tight_layout()
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--count", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="docs/img/robustness/numbers-heldout.png")
    parser.add_argument("--json", default="benchmarks/results/number-boxes.json")
    args = parser.parse_args()
    items = generators()["heldout"].run(args.seed, args.count, "number")
    with tempfile.TemporaryDirectory(prefix="mnistlab-numbers-") as tmp:
        answers = read_numbers(args.run, write_files(items, Path(tmp)))
    labels = [label for _, label in items]
    write_json(args.json, {"run": args.run, "seed": args.seed, "labels": labels, "predictions": answers})
    print(save_figure(figure([viewed(image) for image, _ in items], labels, answers), args.out, dpi=80))
    print(f"read exactly: {sum(a.get('number') == t for a, t in zip(answers, labels))} of {len(labels)}")


if __name__ == "__main__":
    main()
