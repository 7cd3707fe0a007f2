"""CLI for looking at runs and data: `inspect`, `report` and `data explore`."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..clitools import SEED, add_command, bounded, device_option, say, verify_option
from ..fileio import FIGURE_BYTES, all_or_nothing, check_output, check_space, save_figure, write_json
from .numbers import WHAT

MAX_N = 1000  # images in one figure; more would take minutes to draw and be unreadable


def _save_png(fig, path: Path) -> str:
    return str(save_figure(fig, path, facecolor="white"))


def cmd_inspect(args: argparse.Namespace) -> dict:
    from ..plots import FIGURES
    from ..train import load_run
    from .numbers import jsonable, numbers
    from .predictions import predict_test_set

    out = check_output(Path(args.out) if args.out else Path(args.run_dir) / "figures")
    chosen = WHAT if args.what == "all" else (args.what,)
    check_space(out, FIGURE_BYTES * len(chosen))
    run = load_run(args.run_dir, args.device, verify=args.verify)
    predictions = None
    if any(w in ("featuremaps", "probs", "confusion", "errors", "attribution", "embedding") for w in chosen):
        predictions = predict_test_set(run, args.dataset, args.data_dir)
    figures, numbers_files = [], []
    with all_or_nothing([out / f"{what}.{ext}" for what in chosen for ext in ("png", "json")]):
        for what in chosen:
            nums = numbers(run, what, sample=args.sample, n=args.n, predictions=predictions, seed=args.seed)
            figures.append(_save_png(FIGURES[what](nums), out / f"{what}.png"))
            write_json(out / f"{what}.json", jsonable(nums))
            numbers_files.append(str(out / f"{what}.json"))
    say(args, *figures)
    return {"figures": figures, "numbers": numbers_files}


def cmd_report(args: argparse.Namespace) -> dict:
    from ..progress import Progress
    from ..report import write_report
    from ..sweep.record import SWEEP
    from ..train import load_run
    from .predictions import predict_test_set

    if (Path(args.run_dir) / SWEEP).is_file():  # a sweep folder: its own page
        from ..sweep.report import write_sweep_report

        path = write_sweep_report(args.run_dir, args.out)
        say(args, str(path))
        return {"report": str(path)}
    check_output(args.out or Path(args.run_dir) / "report.html", folder=False)
    check_space(args.out or Path(args.run_dir) / "report.html", FIGURE_BYTES * len(WHAT))
    progress = Progress.for_command(args)

    def on_figure(i: int, count: int, what: str) -> None:
        progress.show(f"figure {i}/{count} ({what})", (i - 1) / count, force=True)

    try:
        progress.begin("report: classifying the test set")
        run = load_run(args.run_dir, args.device, verify=args.verify)
        predictions = predict_test_set(run, args.dataset, args.data_dir)
        progress.begin("report")
        path = write_report(run, args.out, predictions=predictions, sample=args.sample, n=args.n, on_figure=on_figure)
    finally:
        progress.close()
    say(args, str(path))
    return {"report": str(path)}


def cmd_data_explore(args: argparse.Namespace) -> dict:
    from ..data import load_dataset
    from ..plots import EXPLORE
    from . import explore

    out = check_output(args.out)
    check_space(out, FIGURE_BYTES * len(EXPLORE))
    ds = load_dataset(args.dataset, args.data_dir)
    nums = {"digits": explore.random_digits(ds, args.n, args.seed), "vector": explore.digit_vector(ds, args.index),
            "means": explore.class_means(ds)}
    nums["correlations"] = nums["correlation-histogram"] = explore.digit_correlations(ds, args.digit)
    with all_or_nothing([out / f"{name}.png" for name in EXPLORE]):
        figures = [_save_png(EXPLORE[name](nums[name]), out / f"{name}.png") for name in EXPLORE]
    corr = nums["correlations"]
    say(args, *figures, f"digit {corr['label']}: mean pairwise correlation {corr['pairs_mean']:.3f} "
                        f"over {corr['n_images']:,} images")
    return {"figures": figures, "dataset": ds.describe(), "digit": args.digit, "n_correlated": corr["n_images"],
            "mean_correlation": corr["pairs_mean"], "median_correlation": corr["pairs_median"]}


def figure_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="a run directory written by mnistlab train")
    parser.add_argument("--sample", type=bounded(int, 0, 10**9), nargs="+", metavar="I",
                        help="test image indices for probs and attribution (all) and featuremaps (the first); default: random")
    parser.add_argument("--n", type=bounded(int, 1, MAX_N), help="random samples for probs (default 10), mistakes for errors "
                                                                 "(default 24), samples and mistakes for attribution (default 6 each)")
    parser.add_argument("--seed", type=SEED, default=0, help="seed for the random samples (default: 0)")
    parser.add_argument("--dataset", help="take test images from another registered set (default: the run's)")
    parser.add_argument("--data-dir", help="folder holding the set's four IDX files")
    device_option(parser, "cpu")
    verify_option(parser)


def register(subparsers, common) -> None:
    ins = add_command(subparsers, "inspect", cmd_inspect, common,
                      help="figures of a run: curves, filters, feature maps, attribution, embedding, ...",
                      description="Write one PNG per figure (and the numbers behind it as JSON) and print the paths.")
    figure_options(ins)
    ins.add_argument("--what", default="all", choices=(*WHAT, "all"), help="which figure (default: all)")
    ins.add_argument("--out", help="folder for the figures (default: RUN_DIR/figures)")
    rep = add_command(subparsers, "report", cmd_report, common, help="one self-contained HTML page of a run or a sweep folder",
                      description="Write one HTML file (figures embedded, nothing fetched) and print its path.")
    figure_options(rep)
    rep.add_argument("--out", help="HTML file to write (default: RUN_DIR/report.html)")


def explore_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--digit", type=bounded(int, 0, 10**4), default=7,
                        help="class whose images are correlated pairwise (default: 7, as in L5)")
    parser.add_argument("--index", type=bounded(int, 0, 10**9), default=0, help="training image shown as a vector (default: 0)")
    parser.add_argument("--n", type=bounded(int, 1, MAX_N), default=32, help="random digits in the grid (default: 32)")
    parser.add_argument("--seed", type=SEED, default=0, help="seed for the random grid (default: 0)")
    parser.add_argument("--out", required=True, help="folder for the figures")
