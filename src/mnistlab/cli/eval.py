"""`mnistlab eval RUN_DIR`: a run's loss, accuracy, per-class accuracy, calibration and confusion on a test set."""
from __future__ import annotations

import argparse

from ..tables import pct
from .common import add_command, data_options, device_option, read_options, say, verify_option


def cmd_eval(args: argparse.Namespace) -> dict:
    # torch loads when the command runs, not when the parser is built
    from ..evaluate import evaluate_run
    from ..train.job import warn_diverged
    from ..train.run import load_run

    run = load_run(args.run_dir, args.device, verify=args.verify)
    result = {**evaluate_run(run, args.dataset, args.data_dir, read_options(args)), "diverged": run.diverged is not None}
    warn_diverged(run, args.run_dir)
    say(args, f"{args.run_dir}: test loss {result['test_loss']:.4f}, accuracy {pct(result['test_accuracy'])} "
              f"on {result['n_test']} {result['dataset']} test images",
        "per-class accuracy: " + ", ".join(f"{c}: {pct(a)}" for c, a in result["per_class_accuracy"].items()),
        calibration_line(result["calibration"]),
        "confusion (rows: true, columns: predicted):",
        *(" ".join(f"{n:5d}" for n in row) for row in result["confusion"]))
    return result


def calibration_line(cal: dict) -> str:
    """The expected calibration error without the run's temperature and with it, and the share marked unsure."""
    where = f"temperature {cal['temperature']:.3f}" if cal["fitted"] else "no temperature (T = 1: trained without a validation split)"
    return (f"calibration: {where}; expected calibration error {pct(cal['ece_before'])} at T = 1, "
            f"{pct(cal['ece_after'])} with it ({cal['bins']} bins); {pct(cal['unsure'])} of answers unsure "
            f"(below {cal['unsure_below']:.0%})")


def register(subparsers, common) -> None:
    ev = add_command(subparsers, "eval", cmd_eval, common, first=lambda args: f"evaluating {args.run_dir} on "
                     f"{args.data_dir or args.dataset or 'its data set'}'s test images",
                     help="loss, accuracy, per-class accuracy, calibration and confusion of a run")
    ev.add_argument("run_dir", help="a run directory written by mnistlab train")
    ev.add_argument("--dataset", help="evaluate on another registered set (default: the run's)")
    data_options(ev, dataset=False)
    device_option(ev, "cpu")
    verify_option(ev)
