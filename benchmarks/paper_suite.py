"""The issue's Targets table (issue 28) on the held-out checks, for a default and a robust run, through predict.

    MNISTLAB_DATA=... python benchmarks/paper_suite.py runs/default runs/robust [--count 100] [--digits 2000]
        [--parts paper,gap,mnistc,writers,clean] [--scenes number] [--out benchmarks/results/paper-suite.json] [--figure PNG]

Every image goes through `predict`'s own path: written to a file, read back by the function predict uses
(robustness/scene_suite.read_as_predict). The held-out paper generator (robustness/paper_heldout.py) and the held-out
corrupted-MNIST suite (robustness/heldout_corruptions.py) are never tuned on. Parts already in --out are kept
unless rerun, so one part can be measured again alone (and, with --scenes, one paper scene: the others are kept).
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from mnistlab.data import load_dataset
from mnistlab.fileio import save_figure, write_json
from mnistlab.plots.robustness import paper_scenes
from mnistlab.robustness.heldout_corruptions import HELDOUT_CORRUPTIONS, corrupt_heldout, gap_cut
from mnistlab.robustness.scene_suite import examples, generators, read_as_predict, score_paper, write_files
from mnistlab.robustness.writers import other_writers, score_writers
from mnistlab.train import load_run
from mnistlab.train.run import run_accuracy

PARTS = ("paper", "gap", "mnistc", "writers", "clean")
PHOTO = ("photo", "photo_rotated")


def prepared(runs, images: np.ndarray) -> list[np.ndarray]:
    """28x28 digits (ink high) as PNG files, read back as predict with each run reads them (the run picks between
    a file's two readings)."""
    with tempfile.TemporaryDirectory(prefix="mnistlab-heldout-") as folder:
        paths = write_files([(image, "") for image in images], Path(folder))
        return [read_as_predict(paths, tuple(run.model.config.input_shape), run.classes, run.confidence)[0] for run in runs]


def sample(test, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    pick = np.random.default_rng(seed).choice(len(test[1]), size=min(n, len(test[1])), replace=False)
    return test[0][pick], test[1][pick]


def part_gap(runs, test, n: int) -> list[dict]:
    images, labels = sample(test, n, 1)
    cut = gap_cut(images)
    return [{"n": len(labels), "raw": run_accuracy(r, cut, labels)[0], "prepared": run_accuracy(r, ready, labels)[0]}
            for r, ready in zip(runs, prepared(runs, cut))]


def part_mnistc(runs, test, n: int) -> list[dict]:
    images, labels = sample(test, n, 2)
    out = [{"n": len(labels), "corruptions": {}} for _ in runs]
    for name in HELDOUT_CORRUPTIONS:
        bad = corrupt_heldout(images, name)
        for run, result, ready in zip(runs, out, prepared(runs, bad)):
            result["corruptions"][name] = {"raw": run_accuracy(run, bad, labels)[0], "prepared": run_accuracy(run, ready, labels)[0]}
    for result in out:
        scores = {k: v["prepared"] for k, v in result["corruptions"].items()}
        worst = min(scores, key=scores.get)
        result.update(mean=float(np.mean(list(scores.values()))), worst={"name": worst, "accuracy": scores[worst]})
    return out


def part_clean(runs, test) -> list[dict]:
    return [{"n": len(test[1]), "raw": run_accuracy(r, test[0], test[1])[0], "prepared": run_accuracy(r, ready, test[1])[0]}
            for r, ready in zip(runs, prepared(runs, test[0]))]


def measure(runs, parts: list[str], args) -> dict:
    data = load_dataset("mnist")
    test = (np.asarray(data.test_images), np.asarray(data.test_labels))
    found = {}
    for part in parts:
        start = time.perf_counter()
        if part == "paper":
            found[part] = score_paper(runs, generators()["heldout"], args.seed, args.count, args.scenes,
                                      on_step=lambda i, n, what: print(f"  {what}", flush=True))
        elif part == "gap":
            found[part] = part_gap(runs, test, args.digits)
        elif part == "mnistc":
            found[part] = part_mnistc(runs, test, args.digits)
        elif part == "writers":
            writers = other_writers()
            found[part] = [score_writers(r, writers) if writers else None for r in runs]
        else:
            found[part] = part_clean(runs, test)
        print(f"{part}: {time.perf_counter() - start:.0f} s", flush=True)
    return found


def with_kept_scenes(found: dict, kept: dict) -> dict:
    """`found`, its paper part (measured on some scenes, --scenes) completed by the scenes kept from before."""
    if "paper" in found and "paper" in kept:
        for result, before in zip(found["paper"], kept["paper"]):
            result["scenes"] = {**before["scenes"], **result["scenes"]}
    return found


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def rows(found: dict, k: int) -> list[tuple[str, str, str]]:
    """(check, target, value) for run k, from the parts measured."""
    out = []
    if "paper" in found:
        scenes = found["paper"][k]["scenes"]
        for scene, score in scenes.items():
            if "accuracy" in score:
                target = ">= 95%" if scene in ("plain", "ruled", "form_box", *PHOTO) else "(no target)"
                out.append((f"digits on paper: {scene} ({score['n']}; wrong and sure)", target,
                            f"{pct(score['accuracy'])} ({pct(score['sure_wrong'])})"))
            else:
                out.append((f"numbers of 2-4 digits ({score['n']}): exact read", ">= 85%", pct(score["exact"])))
                out.append(("numbers: digits_found > 1", ">= 95%", pct(score["digits_found_gt1"])))
    if "gap" in found:
        g = found["gap"][k]
        out.append((f"2-px gap through the middle ({g['n']}): raw / prepared", "prepared >= raw - 1",
                    f"{pct(g['raw'])} / {pct(g['prepared'])}"))
    if "mnistc" in found:
        m = found["mnistc"][k]
        out.append((f"held-out corrupted MNIST ({m['n']} x {len(m['corruptions'])}): mean", ">= 96%", pct(m["mean"])))
        out.append(("  worst corruption", ">= 90%", f"{m['worst']['name']} {pct(m['worst']['accuracy'])}"))
    if found.get("writers") and found["writers"][k]:
        out.append((f"other writers ({found['writers'][k]['images']})", ">= 96%", pct(found["writers"][k]["accuracy"])))
    if "clean" in found:
        c = found["clean"][k]
        out.append((f"clean MNIST ({c['n']}): raw / prepared", ">= 99.3% default, 99.4% robust",
                    f"{pct(c['raw'])} / {pct(c['prepared'])}"))
    return out


def table(found: dict, names: list[str]) -> list[str]:
    per_run = [rows(found, k) for k in range(len(names))]
    if not per_run[0]:
        return []
    width = max(len(r[0]) for r in per_run[0])
    lines = [f"{'check':<{width}}  {'target':<30}  " + "  ".join(f"{n:>22}" for n in names)]
    for i, (check, target, _) in enumerate(per_run[0]):
        lines.append(f"{check:<{width}}  {target:<30}  " + "  ".join(f"{r[i][2]:>22}" for r in per_run))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run folders (e.g. the default and the robust recipe)")
    parser.add_argument("--count", type=int, default=100, help="pictures per paper scene (default: 100)")
    parser.add_argument("--digits", type=int, default=2000, help="test digits per corrupted-MNIST check (default: 2000)")
    parser.add_argument("--seed", type=int, default=0, help="the paper generator's seed (default: 0)")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of {','.join(PARTS)} (default: all)")
    parser.add_argument("--scenes", type=lambda s: [x for x in s.split(",") if x], metavar="S1,S2",
                        help="the paper part on these held-out scenes only (e.g. number; default: all)")
    parser.add_argument("--out", default="benchmarks/results/paper-suite.json")
    parser.add_argument("--figure", metavar="PNG", help="also save a picture of the held-out scenes (4 a scene) here")
    args = parser.parse_args()
    parts = [p for p in args.parts.split(",") if p]
    if set(parts) - set(PARTS):
        parser.error(f"--parts: choose from {', '.join(PARTS)}")
    runs = [load_run(r, "cpu") for r in args.runs]
    if args.figure:
        title = "held-out paper scenes (robustness/paper_heldout.py), as a viewer shows them, with their labels"
        print(save_figure(paper_scenes(examples(generators()["heldout"], args.seed), title), args.figure, dpi=80))
    out = Path(args.out)
    old = json.loads(out.read_text()) if out.is_file() else {}
    kept = old.get("parts", {}) if old.get("runs") == args.runs else {}
    if old.get("count") != args.count or old.get("seed") != args.seed:
        kept.pop("paper", None)  # scenes of another size or seed are not merged with these
    found = {**kept, **with_kept_scenes(measure(runs, parts, args), kept)}
    found = {p: found[p] for p in PARTS if p in found}
    names = [Path(r).name for r in args.runs]
    print("\n".join(table(found, names)))
    write_json(out, {"runs": args.runs, "count": args.count, "digits": args.digits, "seed": args.seed, "parts": found})
    print(out)


if __name__ == "__main__":
    main()
