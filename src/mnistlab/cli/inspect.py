"""`mnistlab inspect RUN_DIR`: the figures of a run as PNG files, with the numbers behind each as JSON."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..fileio import FIGURE_BYTES, all_or_nothing, check_output, check_space, save_figure, write_json
from ..inspect.kinds import WHAT
from ..progress import Progress
from .common import add_command, figure_options, read_options, say

NEEDS_PREDICTIONS = ("featuremaps", "probs", "confusion", "errors", "attribution", "embedding")


def cmd_inspect(args: argparse.Namespace) -> dict:
    # torch and matplotlib load when figures are drawn, not when the parser is built
    from ..inspect.numbers import jsonable, numbers
    from ..inspect.predictions import predict_test_set
    from ..plots import FIGURES
    from ..train.run import load_run

    out = check_output(Path(args.out) if args.out else Path(args.run_dir) / "figures")
    chosen = WHAT if args.what == "all" else (args.what,)
    figures, numbers_files = [], []
    check_space(out, FIGURE_BYTES * len(chosen))
    with Progress.for_command(args) as progress, \
            all_or_nothing([out / f"{what}.{ext}" for what in chosen for ext in ("png", "json")]):
        progress.begin("inspect: loading the run")
        run = load_run(args.run_dir, args.device, verify=args.verify)
        predictions = None
        if any(w in NEEDS_PREDICTIONS for w in chosen):
            progress.begin("inspect: classifying the test set")
            predictions = predict_test_set(run, args.dataset, args.data_dir, read_options(args))
        progress.begin("inspect")
        for i, what in enumerate(chosen):
            progress.show(f"figure {i + 1}/{len(chosen)} ({what})", i / len(chosen), force=True)
            nums = numbers(run, what, sample=args.sample, n=args.n, predictions=predictions, seed=args.seed)
            figures.append(str(save_figure(FIGURES[what](nums), out / f"{what}.png", facecolor="white")))
            write_json(out / f"{what}.json", jsonable(nums))
            numbers_files.append(str(out / f"{what}.json"))
    say(args, *figures)
    return {"figures": figures, "numbers": numbers_files}


def register(subparsers, common) -> None:
    ins = add_command(subparsers, "inspect", cmd_inspect, common, first=lambda args: f"drawing "
                      f"{'every figure' if args.what == 'all' else 'the ' + args.what + ' figure'} of {args.run_dir}",
                      help="figures of a run: curves, filters, feature maps, attribution, embedding, ...",
                      description="Write one PNG per figure (and the numbers behind it as JSON) and print the paths.")
    figure_options(ins)
    ins.add_argument("--what", default="all", choices=(*WHAT, "all"), help="which figure (default: all)")
    ins.add_argument("--out", help="folder for the figures (default: RUN_DIR/figures)")
