"""Issue 28's bad inputs, held out: does `mnistlab predict` give each a clear answer?

    MNISTLAB_DATA=... python benchmarks/bad_inputs.py runs/default [runs/robust] [--out benchmarks/results/bad-inputs.json]

Each file is made here (blank page, ruled lines only, an empty box, 40 digits, a 100-megapixel picture of a digit,
a truncated JPEG) and given to the real command in a subprocess. A clear answer is a one-line refusal (exit 2),
an answer marked unsure, or, for the 40 digits, a reading of more than one digit; a traceback, or a confident
single digit where there is none (or where there are 40), is not. Without an "unsure" field in predict's JSON,
a probability under 0.5 counts as unsure.
"""
from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from mnistlab.fileio import write_json
from mnistlab.robustness.paper_heldout import draw_lines, ink_on, paper, rules, stroke, test_digits

NO_DIGIT = ("blank page", "ruled lines only", "empty box")


def save(page: np.ndarray, path: Path, **options) -> Path:
    Image.fromarray(np.clip(np.round(page), 0, 255).astype(np.uint8)).save(path, **options)
    return path


def with_digits(page: np.ndarray, picks: list[int], height: int, spots: list[tuple[int, int]], rng) -> np.ndarray:
    images, _ = test_digits()
    for k, (x, y) in zip(picks, spots):
        ink_on(page, stroke(images[k], height, "ballpoint", rng), (x, y), "black ballpoint", rng)
    return page


def make_files(folder: Path) -> dict[str, Path]:
    rng = np.random.default_rng(28)
    files = {"blank page": save(paper(1600, 1200, rng), folder / "blank.jpg", quality=85)}
    ruled = paper(1100, 850, rng)
    rules(ruled, rng, squared=False)
    files["ruled lines only"] = save(ruled, folder / "ruled.png")
    box = paper(300, 400, rng)
    draw_lines(box, [(120, 80, 280, 80), (280, 80, 280, 220), (280, 220, 120, 220), (120, 220, 120, 80)], (40, 40, 45), 2, 1.0)
    files["empty box"] = save(box, folder / "empty-box.png")
    many = paper(600, 1000, rng)
    spots = [(40 + 95 * (i % 10), 40 + 140 * (i // 10)) for i in range(40)]
    files["40 digits"] = save(with_digits(many, list(rng.integers(0, 10000, 40)), 80, spots, rng), folder / "forty.png")
    big = np.full((10_000, 10_000), 240, np.uint8)  # 100 megapixels: gray, so the file stays small to write
    digit = with_digits(paper(1200, 1200, rng), [0], 900, [(300, 150)], rng).mean(axis=2)
    big[4400:5600, 4400:5600] = np.round(digit).astype(np.uint8)
    files["100-megapixel image"] = save(big, folder / "huge.png", compress_level=1)
    photo = io.BytesIO()
    Image.fromarray(np.round(with_digits(paper(480, 640, rng), [1], 200, [(250, 140)], rng)).astype(np.uint8)).save(
        photo, "JPEG", quality=85)
    (folder / "truncated.jpg").write_bytes(photo.getvalue()[: len(photo.getvalue()) // 2])
    files["truncated JPEG"] = folder / "truncated.jpg"
    return files


def verdict(case: str, code: int, out: str, err: str) -> tuple[bool, str]:
    """Whether the command's answer is clear, and what it was: a picture of one digit needs that digit (the
    test set's first for the 100-megapixel picture, its second for the truncated JPEG) or "unsure"."""
    if code == 2 and err.strip().startswith("mnistlab: error:") and "Traceback" not in err:
        return True, "refused: " + err.strip().splitlines()[0].removeprefix("mnistlab: error: ")
    if code != 0 or "Traceback" in err:
        return False, f"exit {code}: " + (err.strip().splitlines() or ["(no message)"])[-1]
    p = json.loads(out)["predictions"][0]
    digits = p.get("number") or p["class"]
    probability = max(p.get("probabilities", [0]))
    unsure = p.get("unsure", probability < 0.5)
    said = f"answered {digits!r} at {probability:.0%}" + (" (unsure)" if unsure else "") + \
        (f", digits_found {p['digits_found']}" if "digits_found" in p else "")
    if case == "40 digits":
        return len(str(digits)) > 1 or p.get("digits_found", 1) > 1 or unsure, said
    if case in NO_DIGIT:
        return unsure, said
    expected = str(test_digits()[1][0 if case == "100-megapixel image" else 1])
    return unsure or digits == expected, said + f" (the digit is {expected})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--out", default="benchmarks/results/bad-inputs.json")
    args = parser.parse_args()
    command, found = shutil.which("mnistlab") or sys.exit("the mnistlab command is not on PATH"), {}
    with tempfile.TemporaryDirectory(prefix="mnistlab-bad-") as tmp:
        files = make_files(Path(tmp))
        for run in args.runs:
            for case, path in files.items():
                done = subprocess.run([command, "predict", run, str(path), "--json"],
                                      capture_output=True, text=True, timeout=600)
                clear, said = verdict(case, done.returncode, done.stdout, done.stderr)
                found.setdefault(case, {})[Path(run).name] = {"clear": clear, "answer": said}
                print(f"{Path(run).name:<10} {case:<20} {'clear' if clear else 'NOT clear':<10} {said}", flush=True)
    write_json(args.out, found)
    print(args.out)


if __name__ == "__main__":
    main()
