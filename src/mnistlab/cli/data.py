"""`mnistlab data info` and `mnistlab data explore`: a data set's facts, and a look at its images before training."""
from __future__ import annotations

import argparse

from ..argtypes import SEED, bounded
from ..data.info import data_info
from ..fileio import FIGURE_BYTES, all_or_nothing, check_output, check_space, save_figure
from ..progress import Progress
from .common import MAX_N, Parser, add_command, data_named, data_options, load_data, say


def cmd_data_info(args: argparse.Namespace) -> dict:
    info = data_info(load_data(args))
    colour = "gray" if info["channels"] == 1 else f"{info['channels']} channels"
    say(args,
        f"{info['name']}: {info['n_train']} train / {info['n_test']} test images from {info['source']} ({info['path']})"
        + (f", read as {info['read']['format']}" if "read" in info else "")
        + (f", test set: a stratified {info['split']['test_fraction']:.0%} (seed {info['split']['seed']})" if "split" in info else ""),
        f"image size {info['height']}x{info['width']}, {colour}, pixels {info['pixel_min']}..{info['pixel_max']}",
        "class counts (train): " + ", ".join(f"{c}: {n}" for c, n in info["class_counts"].items()))
    return info


def cmd_data_explore(args: argparse.Namespace) -> dict:
    # matplotlib (and torch, through inspect) load when figures are drawn, not when the parser is built
    from ..inspect import explore
    from ..plots import EXPLORE

    out = check_output(args.out)
    check_space(out, FIGURE_BYTES * len(EXPLORE))
    with Progress.for_command(args) as progress, all_or_nothing([out / f"{name}.png" for name in EXPLORE]):
        progress.begin("data explore: loading the data")
        ds = load_data(args)
        progress.begin("data explore: digits, class means and correlations")
        nums = {"digits": explore.random_digits(ds, args.n, args.seed), "vector": explore.digit_vector(ds, args.index),
                "means": explore.class_means(ds)}
        nums["correlations"] = nums["correlation-histogram"] = explore.digit_correlations(ds, args.digit)
        progress.begin("data explore: figures")
        figures = [str(save_figure(EXPLORE[name](nums[name]), out / f"{name}.png", facecolor="white")) for name in EXPLORE]
    corr = nums["correlations"]
    say(args, *figures, f"digit {corr['label']}: mean pairwise correlation {corr['pairs_mean']:.3f} "
                        f"over {corr['n_images']:,} images")
    return {"figures": figures, "dataset": ds.describe(), "digit": args.digit, "n_correlated": corr["n_images"],
            "mean_correlation": corr["pairs_mean"], "median_correlation": corr["pairs_median"]}


def explore_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--digit", type=bounded(int, 0, 10**4), default=7,
                        help="class whose images are correlated pairwise (default: 7, as in L5)")
    parser.add_argument("--index", type=bounded(int, 0, 10**9), default=0, help="training image shown as a vector (default: 0)")
    parser.add_argument("--n", type=bounded(int, 1, MAX_N), default=32, help="random digits in the grid (default: 32)")
    parser.add_argument("--seed", type=SEED, default=0, help="seed for the random grid (default: 0)")
    parser.add_argument("--out", required=True, help="folder for the figures")


def register(subparsers, common) -> None:
    data = subparsers.add_parser("data", help="inspect data sets")
    data_sub = data.add_subparsers(dest="data_command", required=True, parser_class=Parser, metavar="ACTION")
    info = add_command(data_sub, "info", cmd_data_info, common, first=lambda args: f"reading {data_named(args)}",
                       help="source, sizes, class counts, pixel range")
    data_options(info)
    explore = add_command(data_sub, "explore", cmd_data_explore, common,
                          first=lambda args: f"drawing {data_named(args)}'s digits, class means and correlations into {args.out}",
                          help="random digits, a digit as a vector, class means, correlations of one digit")
    data_options(explore)
    explore_options(explore)
