"""Every speed target of the engine issue against the results `benchmarks/run.sh` wrote, as a Markdown table.

Usage: python benchmarks/targets.py cpu|gpu|suite RESULTS_DIR   (a missing result file shows as "not measured")
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def load(folder: Path, name: str) -> dict | None:
    path = folder / name
    return json.loads(path.read_text()) if path.is_file() else None


def summary(report: dict | None, recipe: str) -> dict | None:
    return None if report is None else report["summary"].get(recipe)


def row(target: str, measured, ok: bool | None) -> str:
    verdict = "not measured" if ok is None else "met" if ok else "**not met**"
    return f"| {target} | {measured if ok is not None else '-'} | {verdict} |"


def gpu_rows(folder: Path) -> list[str]:
    rows = []
    fast = summary(load(folder, "gpu-99.json"), "mnistlab-fast")
    rows.append(row("mnistlab-fast: median time to 99.0% <= 0.05 s (10 seeds)",
                    fast and f"{fast['median_time_to_target_s']} s", fast and (fast["median_time_to_target_s"] or 1e9) <= 0.05))
    rows.append(row("mnistlab-fast: mean accuracy >= 99.1%, 10/10 seeds at 99%",
                    fast and f"{100 * fast['mean_accuracy']:.2f}%, {fast['runs_reaching_target']}/{fast['runs']}",
                    fast and fast["mean_accuracy"] >= 0.991 and fast["runs_reaching_target"] == fast["runs"] == 10))
    rows.append(row("mnistlab-fast <= 0.12x of fast-reference (same run)",
                    fast and f"{fast['time_ratio_to_fast_reference']}x", fast and (fast["time_ratio_to_fast_reference"] or 9) <= 0.12))
    cold = load(folder, "gpu-cold-start.json")
    rows.append(row("fresh process to the first 99% model, data load excluded, <= 3 s",
                    cold and f"{cold['wall_without_data_s']} s ({100 * cold['test_accuracy']:.2f}%)",
                    cold and cold["wall_without_data_s"] <= 3 and cold["test_accuracy"] >= 0.99))
    short = summary(load(folder, "gpu-99.5.json"), "mnistlab-best-short")
    rows.append(row("99.5% in <= 2 s of training, median of 5 seeds (mnistlab-best-short)",
                    short and f"{short['median_time_to_target_s']} s", short and (short["median_time_to_target_s"] or 1e9) <= 2))
    best = load(folder, "gpu-best.json")
    sb = summary(best, "mnistlab-best")
    slowest = best and max(r["train_s"] for r in best["results"])
    rows.append(row("mnistlab-best: mean >= 99.72% over 5 seeds, <= 30 s each",
                    sb and f"{100 * sb['mean_accuracy']:.2f}%, slowest {slowest:.1f} s",
                    sb and sb["mean_accuracy"] >= 0.9972 and slowest <= 30))
    rows += suite_rows(load(folder, "gpu-experiments.json"), each=15, whole=120)
    return rows


def suite_rows(suite: dict | None, each: float | None, whole: float) -> list[str]:
    rows = []
    if each is not None:
        slowest = suite and max(suite["experiments"], key=lambda r: r["seconds"])
        rows.append(row(f"each of the twelve experiments at lecture settings <= {each:g} s",
                        slowest and f"slowest {slowest['name']} {slowest['seconds']:.1f} s", slowest and slowest["seconds"] <= each))
    rows.append(row(f"the whole suite <= {whole / 60:g} min wall",
                    suite and f"{suite['wall_seconds']:.0f} s ({suite['jobs']} job(s))", suite and suite["wall_seconds"] <= whole))
    return rows


def cpu_rows(folder: Path) -> list[str]:
    fast = summary(load(folder, "cpu.json"), "mnistlab-fast")
    return [row("mnistlab-fast <= 0.25x of fast-reference on the CPU (3 seeds)",
                fast and f"{fast['time_ratio_to_fast_reference']}x ({100 * fast['mean_accuracy']:.2f}%)",
                fast and (fast["time_ratio_to_fast_reference"] or 9) <= 0.25),
            *suite_rows(load(folder, "cpu-experiments.json"), each=None, whole=900)]


def suite_times(folder: Path) -> None:
    """`run.sh suite`'s account: each experiment's wall and CPU seconds, then the whole suite's wall time."""
    suite = load(folder, "cpu-experiments.json")
    if suite is None:
        print("the suite was not measured (no cpu-experiments.json)")
        return
    print("| experiment | wall s | CPU s | trainings reused |\n|---|---|---|---|")
    for r in suite["experiments"]:
        print(f"| `{r['name']}` | {r['seconds']:.0f} | {r['cpu_seconds']:.0f} | {r['reused']} |")
    cpu = sum(r["cpu_seconds"] for r in suite["experiments"])
    print(f"| **all twelve** | **{suite['wall_seconds']:.0f}** (wall, {suite['jobs']} at a time) | {cpu:.0f} | "
          f"{sum(r['reused'] for r in suite['experiments'])} |\n")
    print("| target | measured | |\n|---|---|---|", *suite_rows(suite, each=None, whole=900), sep="\n")


def main() -> None:
    where, folder = sys.argv[1], Path(sys.argv[2])
    if where == "suite":
        suite_times(folder)
        return
    rows = gpu_rows(folder) if where == "gpu" else cpu_rows(folder)
    print("| target | measured | |\n|---|---|---|", *rows, sep="\n")


if __name__ == "__main__":
    main()
