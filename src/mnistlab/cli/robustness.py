"""`mnistlab robustness RUN [RUN ...]`: the corruption benchmark, runs side by side."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..argtypes import COUNT, SEED
from ..data.dataset import DIGITS
from ..errors import UserError
from ..robustness.corruptions import CORRUPTIONS
from ..robustness.scene_suite import PAPER_COUNT
from ..tables import pct
from .common import add_command, data_named, data_options, device_option, read_options, say


def table(results: list[dict], names: list[str]) -> list[str]:
    """The text table: a row per corruption (raw / prepared, mean over severities), then families and means."""
    width = max(16, *(len(n) for n in names))
    head = f"{'corruption':<16} {'family':<12} " + " ".join(f"{n[-width:]:>{width}}" for n in names)
    lines = [head, f"{'':<29} " + " ".join(f"{'raw / prepared':>{width}}" for _ in names)]

    def row(label: str, family: str, cells: list[str]) -> None:
        lines.append(f"{label:<16} {family:<12} " + " ".join(f"{c:>{width}}" for c in cells))


    row("clean", "", [f"{pct(r['clean_accuracy'])} / {pct(r['clean_prepared'])}" for r in results])
    if all(r.get("other_writers") for r in results):
        row("other writers", "kept aside", [f"- / {pct(r['other_writers']['accuracy'])}" for r in results])
    for name in results[0]["corruptions"]:
        row(name, CORRUPTIONS[name].family,
            [f"{pct(r['corruptions'][name]['raw'])} / {pct(r['corruptions'][name]['prepared'])}" for r in results])
    for family in results[0]["families"]:
        row(f"[{family}]", "family", [pct(r["families"][family]) for r in results])
    row("mean", "", [f"{pct(r['mean_raw'])} / {pct(r['mean_accuracy'])}" for r in results])
    row("worst", "", [f"{r['worst']['name']} {pct(r['worst']['accuracy'])}" for r in results])
    return lines


def cmd_paper(args: argparse.Namespace) -> dict:
    """`robustness --paper`: the paper suite's table per generator, paper.json and a figure of each one's scenes."""
    # matplotlib and the generators load when the command runs, not when the parser is built
    from ..fileio import check_output, save_figure, write_json
    from ..plots.robustness import paper_scenes
    from ..progress import Progress
    from ..robustness.scene_suite import check_generators, examples, generators, paper_table, score_paper
    from ..train import load_run

    chosen = check_generators(list(generators()) if args.paper == "all" else args.paper.split(","))
    out = check_output(args.out)
    runs = [load_run(r, args.device) for r in args.runs]
    labels = [Path(r).name or str(r) for r in args.runs]
    progress, found, lines = Progress.for_command(args), {}, []
    try:
        progress.begin(f"robustness --paper {' '.join(map(str, args.runs))}")
        for gen in chosen:
            scored = score_paper(runs, gen, args.seed, args.paper_count, on_step=lambda i, n, what: progress.show(what, i / n))
            found[gen.name] = [{"run_dir": str(path), **result} for path, result in zip(args.runs, scored)]
            lines += [*paper_table(scored, labels), ""]
            progress.show(f"{gen.name} figure", 1.0)
            lines.append(str(save_figure(paper_scenes(examples(gen, args.seed), f"paper scenes: {gen.name} ({gen.role})"),
                                         out / f"paper-{gen.name}.png")))
    finally:
        progress.close()
    write_json(out / "paper.json", {"seed": args.seed, "count": args.paper_count, "generators": found})
    say(args, *lines, str(out / "paper.json"))
    return {"generators": found}


def cmd_robustness(args: argparse.Namespace) -> dict:
    if args.paper is not None:
        return cmd_paper(args)
    # matplotlib and the corruption suite load when the command runs, not when the parser is built
    from ..evaluate import load_run_dataset
    from ..fileio import check_output, save_figure, write_json
    from ..plots.robustness import examples, families
    from ..progress import Progress
    from ..robustness.corruptions import check_names
    from ..robustness.score import Suite, json_view, score_runs
    from ..robustness.writers import MISSING, SOURCE, other_writers, score_writers
    from ..train import load_run

    names = check_names(args.corruptions.split(",")) if args.corruptions else None
    out = check_output(args.out)
    runs = [load_run(r, args.device) for r in args.runs]  # every run checked before the long work starts
    for path, run in zip(args.runs, runs):
        if tuple(run.model.config.input_shape) != (1, 28, 28):
            raise UserError(f"{path}: the benchmark corrupts 1x28x28 digits; this run takes "
                            f"{'x'.join(map(str, run.model.config.input_shape))} inputs")
    # the first run's data as eval reads it: --data with its format options, or the run's own --data PATH
    dataset = load_run_dataset(runs[0], args.dataset, args.data_dir, read_options(args))
    suite, suite_classes = Suite.of(dataset, names, args.quick, args.seed), dataset.classes
    progress = Progress.for_command(args)
    try:
        progress.begin(f"robustness {' '.join(map(str, args.runs))}")
        scored = score_runs(runs, suite, on_step=lambda i, n, what: progress.show(what, i / n))
        results = [{"run_dir": str(path), **result} for path, result in zip(args.runs, scored)]
        writers, note = None, []
        if args.other_writers and suite_classes == DIGITS:
            progress.show("other writers", 1.0)
            writers = other_writers()
            note = [f"other writers: {SOURCE}, through predict's preparation" if writers else f"other writers: skipped ({MISSING})"]
        for run, result in zip(runs, results):
            result["other_writers"] = score_writers(run, writers) if writers else None
        progress.show("figures", 1.0)
        labels = run_labels(args.runs)
        figures = [str(save_figure(examples(r, f"{label}: corrupted test digits and its answers (raw | prepared)"),
                                   out / f"examples-{label}.png")) for r, label in zip(results, labels)]
        figures.append(str(save_figure(families(results, labels), out / "families.png")))
    finally:
        progress.close()
    write_json(out / "robustness.json", {"suite": suite.source, "seed": suite.seed, "runs": results})
    say(args, f"corruption benchmark on the {suite.source}, seed {suite.seed}: accuracy raw / through predict's "
              f"preparation, mean over severities 1-3", *table(results, labels), *note, *figures,
        str(out / "robustness.json"))
    return {"runs": [json_view(r) for r in results]}


def run_labels(paths: list[str]) -> list[str]:
    """A label per run for its figure file and table row: the folder's name, or, where two runs share one
    (a/run, b/run), as much of the path as tells them apart (a-run, b-run): one run's figure never replaces another's."""
    parts = [Path(p).resolve().parts for p in paths]
    for depth in range(1, max(map(len, parts)) + 1):
        labels = ["-".join(p[-depth:]).lstrip("/") or str(path) for p, path in zip(parts, paths)]
        if len(set(labels)) == len(labels):
            return labels
    return [f"{label}-{i + 1}" for i, label in enumerate(labels)]  # the same run twice


def first(args: argparse.Namespace) -> str:
    """What `robustness` is about to do, from the options alone (main() says it before torch loads)."""
    runs = ", ".join(map(str, args.runs))
    if args.paper is not None:
        return (f"scoring {runs} on the paper suite ({'every generator' if args.paper == 'all' else args.paper}, "
                f"{args.paper_count} pictures a scene)")
    return (f"scoring {runs} on the corruption suite ({args.corruptions or 'every corruption'} at severities 1-3) with "
            f"{'the first 1,000 of ' if args.quick else ''}{data_named(args)}'s test images")


def register(subparsers, common) -> None:
    parser = add_command(subparsers, "robustness", cmd_robustness, common, first=first,
                         help="accuracy on corrupted digits (noise, blur, rotation, gray paper, stray marks, ...)",
                         description="Score runs on mnistlab's corruption suite: every test digit corrupted at "
                                     "three severities, scored raw and through predict's preparation. Corruptions: "
                                     + "; ".join(f"{c.name} ({c.family}): {c.about}" for c in CORRUPTIONS.values()))
    parser.add_argument("runs", nargs="+", metavar="RUN", help="run directories written by mnistlab train")
    parser.add_argument("--quick", action="store_true", help="the first 1,000 test images instead of all")
    parser.add_argument("--corruptions", metavar="A,B", help="only these corruptions, comma-separated (default: all)")
    parser.add_argument("--no-other-writers", dest="other_writers", action="store_false",
                        help="skip the digits kept aside: 1,797 digits by 43 writers outside MNIST, scanned at 8x8 "
                             "(scikit-learn's load_digits, scored through predict's preparation; shown when "
                             "scikit-learn is installed and the runs read digits)")
    parser.add_argument("--paper", nargs="?", const="all", metavar="GEN,GEN",
                        help="score the paper suite instead: digits and numbers drawn on generated paper scenes "
                             "(plain, photographed, ruled, squared, form boxes, pen gaps), read through predict; "
                             "the generators named (default: every one; 'heldout' is never tuned on)")
    parser.add_argument("--paper-count", type=COUNT, default=PAPER_COUNT, metavar="N",
                        help=f"pictures per scene with --paper (default: {PAPER_COUNT})")
    parser.add_argument("--seed", type=SEED, default=0,
                        help="seed of the corruptions' random numbers, and of the paper scenes with --paper (default: 0)")
    parser.add_argument("--out", default="robustness", help="folder for robustness.json (paper.json with --paper) and the figures "
                                                            "(default: ./robustness)")
    data_options(parser)
    parser.set_defaults(dataset=None)
    device_option(parser, "cpu")
