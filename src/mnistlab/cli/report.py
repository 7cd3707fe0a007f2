"""`mnistlab report DIR`: one HTML page of a run, or of a sweep folder."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import UserError
from ..fileio import FIGURE_BYTES, check_output, check_space
from ..inspect.kinds import WHAT
from ..progress import Progress
from .common import add_command, figure_options, read_options, say


def cmd_report(args: argparse.Namespace) -> dict:
    # torch and matplotlib load when a page is written, not when the parser is built
    from ..inspect.predictions import predict_test_set
    from ..report.run import write_report
    from ..report.sweep import write_sweep_report
    from ..sweep.record import SWEEP
    from ..train.run import load_run

    if (Path(args.run_dir) / SWEEP).is_file():  # a sweep folder: its own page
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
        predictions = predict_test_set(run, args.dataset, args.data_dir, read_options(args))
        progress.begin("report")
        path = write_report(run, args.out, predictions=predictions, sample=args.sample, n=args.n, on_figure=on_figure,
                            robustness=robustness_of(args.robustness, args.run_dir) if args.robustness else None)
    finally:
        progress.close()
    say(args, str(path))
    return {"report": str(path)}


def robustness_of(path: str, run_dir: str) -> dict:
    """This run's entry in a robustness.json written by `mnistlab robustness`."""
    try:
        runs = json.loads(Path(path).read_text())["runs"]
        return next(r for r in runs if Path(r["run_dir"]).resolve() == Path(run_dir).resolve())
    except (OSError, ValueError, KeyError, TypeError):
        raise UserError(f"--robustness {path}: not a robustness.json written by `mnistlab robustness`") from None
    except StopIteration:
        raise UserError(f"--robustness {path}: holds no results for {run_dir}; run `mnistlab robustness {run_dir}`") from None


def register(subparsers, common) -> None:
    rep = add_command(subparsers, "report", cmd_report, common, first=lambda args: f"writing the HTML page of {args.run_dir}",
                      help="one self-contained HTML page of a run or a sweep folder",
                      description="Write one HTML file (figures embedded, nothing fetched) and print its path.")
    figure_options(rep)
    rep.add_argument("--out", help="HTML file to write (default: RUN_DIR/report.html)")
    rep.add_argument("--robustness", metavar="FILE", help="add the corruption benchmark from a robustness.json written "
                                                          "by `mnistlab robustness RUN_DIR`")
