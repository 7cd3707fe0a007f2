"""Seconds until each command speaks (issue 31): `--help` and `--version` to exit, every command to its first line.

    python benchmarks/first_line.py [--rounds 3] [--busy] [--out benchmarks/results/first-line.json]

Each command runs in a fresh `python -m mnistlab.cli` with stdout a pipe, as in a log: the time to the first line on
stdout, then the process is stopped (what follows is the work itself). The commands use a small run trained here on
the package's sample, so nothing outside the package is needed. `--busy` runs `while True: pass` beside them, a
second process wanting the CPU. The targets: `--help`/`--version` <= 0.5 s; first line <= 2 s quiet, <= 3 s busy.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

COMMANDS = ("train", "eval", "predict", "bench", "experiment", "robustness", "sweep", "data", "scratch",
            "notebooks", "export", "inspect", "report", "serve", "finetune")
SAMPLE = ["--dataset", "mnist-sample"]


def first_lines(run: Path, digit: Path, folder: Path, tmp: Path) -> dict[str, list[str]]:
    """A command line for every command, each doing real work on the sample after its first line."""
    r = str(run)
    return {
        "train": ["train", "--recipe", "fast", *SAMPLE, "--out", str(tmp / "t")],
        "eval": ["eval", r, *SAMPLE],
        "predict": ["predict", r, str(digit)],
        "predict --number": ["predict", r, str(digit), "--number"],
        "bench": ["bench", "--recipes", "mnistlab-fast", "--seeds", "1", *SAMPLE],
        "experiment run": ["experiment", "run", "epochs", *SAMPLE, "--out", str(tmp / "e")],
        "robustness": ["robustness", r, "--quick", *SAMPLE, "--out", str(tmp / "rb")],
        "sweep": ["sweep", "--lr", "0.01,0.02", "--epochs", "1", *SAMPLE, "--out", str(tmp / "s")],
        "data info": ["data", "info", *SAMPLE],
        "scratch train": ["scratch", "train", *SAMPLE],
        "notebooks": ["notebooks", str(tmp / "nb")],
        "export": ["export", r, "--format", "onnx", "--out", str(tmp / "m.onnx")],
        "inspect": ["inspect", r, *SAMPLE],
        "report": ["report", r, *SAMPLE],
        "serve": ["serve", r, "--port", "0"],
        "finetune": ["finetune", r, str(folder), "--out", str(tmp / "f")],
    }


def seconds_to_first_line(argv: list[str]) -> tuple[float, str]:
    """Start the command, read stdout's first line, stop it: the seconds and the line."""
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "mnistlab.cli", *argv], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    line = process.stdout.readline()
    seconds = time.perf_counter() - start
    process.kill()
    process.wait()
    return seconds, line.rstrip("\n")


def seconds_to_exit(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mnistlab.cli", *argv], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def setup(tmp: Path) -> tuple[Path, Path, Path]:
    """A small run on the sample, one digit image and a digits folder of two classes for finetune."""
    run = tmp / "run"
    subprocess.run([sys.executable, "-m", "mnistlab.cli", "train", "--recipe", "fast", "--epochs", "1", *SAMPLE,
                    "--out", str(run), "--json"], stdout=subprocess.DEVNULL, check=True)
    digit = np.zeros((28, 28), np.uint8)
    digit[6:22, 12:16] = 255  # a 1
    Image.fromarray(digit).save(tmp / "one.png")
    for label in ("1", "7"):
        (tmp / "digits" / label).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.roll(digit, i - 1, axis=1)).save(tmp / "digits" / label / f"{i}.png")
    return run, tmp / "one.png", tmp / "digits"


def measure(rounds: int, tmp: Path) -> dict:
    run, digit, folder = setup(tmp)
    helps = {"--version": ["--version"], "--help": ["--help"], **{f"{c} --help": [c, "--help"] for c in COMMANDS}}
    firsts = first_lines(run, digit, folder, tmp)
    found: dict[str, dict] = {name: {"kind": "exit", "seconds": []} for name in helps}
    found.update({name: {"kind": "first line", "seconds": []} for name in firsts})
    for _ in range(rounds):  # rounds alternate over every command, so a slow spell hits them all alike
        for name, argv in helps.items():
            found[name]["seconds"].append(round(seconds_to_exit(argv), 3))
        for name, argv in firsts.items():
            seconds, line = seconds_to_first_line(argv)
            found[name]["seconds"].append(round(seconds, 3))
            found[name]["line"] = line
    for entry in found.values():
        entry["median_s"] = statistics.median(entry["seconds"])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--busy", action="store_true", help="run a busy process beside the commands")
    parser.add_argument("--out", default="benchmarks/results/first-line.json")
    args = parser.parse_args()
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.busy else None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            found = measure(args.rounds, Path(tmp))
    finally:
        if busy:
            busy.kill()
    for name, entry in found.items():
        print(f"{name:20s} {entry['kind']:10s} median {entry['median_s']:5.2f} s  {entry.get('line', '')[:70]}")
    report = {"busy": args.busy, "rounds": args.rounds, "load_average": os.getloadavg(), "commands": found,
              "slowest_help_s": max(e["median_s"] for e in found.values() if e["kind"] == "exit"),
              "slowest_first_line_s": max(e["median_s"] for e in found.values() if e["kind"] == "first line")}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_suffix(".tmp")
    tmp_out.write_text(json.dumps(report, indent=2) + "\n")
    tmp_out.replace(out)
    print(f"slowest --help/--version {report['slowest_help_s']:.2f} s, slowest first line "
          f"{report['slowest_first_line_s']:.2f} s ({'busy' if args.busy else 'quiet'}, load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
