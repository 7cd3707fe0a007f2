"""The README's Python example, run as a script as a user would, on a quiet machine and beside one busy process.

Issue 31's target: beside a busy process the example takes at most 1.5x its quiet time, and shows its progress
(stderr lines) in both. The code run is the README's first Python block itself, read from README.md at run time,
so the figure is of what the README says; only `runs/l1` is redirected into a temporary folder. Rounds alternate
quiet and busy so that slow drift of the machine's other load falls on both alike. A third run each round, quiet at
one thread, is the floor: beside a busy process on two cores the example has one core at best.

Usage: MNISTLAB_DATA=../shared/data python benchmarks/readme_example.py [--rounds 2] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
SPIN = "while True: pass"


def example_code() -> str:
    """The README's first ```python block (the `fit` example)."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    if not blocks or "fit(" not in blocks[0]:
        sys.exit(f"{README}: its first python block is not the fit() example any more; update this script")
    return blocks[0]


def run_once(code: str, folder: Path, busy: bool, env: dict | None = None) -> dict:
    """One run of the example in a fresh interpreter: wall seconds and the progress lines it printed on stderr."""
    script = folder / "example.py"
    script.write_text(code.replace('"runs/l1"', repr(str(folder / "l1"))))
    spinner = subprocess.Popen([sys.executable, "-c", SPIN]) if busy else None
    try:
        time.sleep(1.0 if busy else 0.0)  # let the spinner settle on a core
        start = time.perf_counter()
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True,
                              env={**os.environ, **(env or {})})
        wall = time.perf_counter() - start
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait()
    lines = [line for line in re.split(r"[\r\n]", done.stderr) if line.strip()]
    return {"wall_s": round(wall, 2), "stderr_lines": len(lines), "first_stderr": lines[0] if lines else None}


def cpu_name() -> str:
    """The CPU's model name (the ratio of one to two threads differs between CPU kinds)."""
    try:
        return next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", help="also write the JSON report here")
    args = parser.parse_args()
    code = example_code()
    # the third: quiet at one thread, the most a busy neighbour can leave the example on two cores (its floor)
    runs: dict[str, list[dict]] = {"quiet": [], "busy": [], "quiet, one thread": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.rounds):
            for load in runs:
                one = {"OMP_NUM_THREADS": "1"} if load == "quiet, one thread" else None
                runs[load].append(run_once(code, Path(tmp), load == "busy", one))
                print(f"round {i + 1} {load}: {runs[load][-1]}", flush=True)
    quiet, busy, one = (statistics.median(r["wall_s"] for r in rs) for rs in runs.values())
    print(f"quiet at one thread {one:.1f} s: {one / quiet:.2f}x the quiet time, the floor beside a busy process")
    report = {"rounds": args.rounds, "median_quiet_s": quiet, "median_busy_s": busy, "median_quiet_one_thread_s": one,
              "busy_over_quiet": round(busy / quiet, 3), "one_thread_over_quiet": round(one / quiet, 3),
              "cpu": cpu_name(), "runs": runs,
              "targets": {"busy <= 1.5x quiet": busy <= 1.5 * quiet,
                          "progress shown in every run": all(r["stderr_lines"] > 0 for rs in runs.values() for r in rs)}}
    print(f"quiet {quiet:.1f} s, beside a busy process {busy:.1f} s: {busy / quiet:.2f}x")
    for target, met in report["targets"].items():
        print(f"{target}: {'met' if met else 'NOT met'}")
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
