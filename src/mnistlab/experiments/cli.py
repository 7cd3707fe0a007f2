"""`mnistlab experiment list` and `mnistlab experiment run NAME`."""
from __future__ import annotations

import argparse

from ..clitools import COUNT, Parser, add_command, capture_option, connect_timeout_option, data_options, device_option, say


def cmd_list(args: argparse.Namespace) -> dict:
    from .registry import describe

    rows = describe()
    width = max(len(r["name"]) for r in rows)
    say(args, *(f"{r['name']:<{width}}  {r['title']}" for r in rows))
    return {"experiments": rows}


def brief(result: dict) -> dict:
    return {k: result[k] for k in ("name", "summary", "results_path", "figures", "seconds", "device", "quick", "table",
                                   "capture", "capture_s")}


def cmd_run(args: argparse.Namespace) -> dict:
    from ..progress import Progress
    from ..train.device import set_threads
    from .registry import EXPERIMENTS, run_experiment, run_suite

    common = dict(quick=args.quick, device=args.device, seed=args.seed, dataset=args.dataset, data_dir=args.data_dir,
                  capture=args.capture)
    if args.name == "all":
        suite = run_suite(list(EXPERIMENTS), args.jobs or 1, args.out, quiet=args.json, digit=args.digit, **common)
        say(args, "", *(f"{r['name']:<18} {r['seconds']:>8.1f} s" for r in suite["experiments"]),
            f"all {len(suite['experiments'])} experiments: {suite['wall_seconds']:.1f} s wall, {suite['jobs']} at a time "
            f"({suite['threads_per_job']} thread(s) each)")
        return {**suite, "experiments": [brief(r) for r in suite["experiments"]]}
    set_threads(args.threads)
    options = {"digit": args.digit} if args.name == "missing-class" else {}
    say_line = lambda line: say(args, line)  # noqa: E731
    if args.executor:
        from ..sweep.experiments import run_experiment_on
        from ..sweep.ray_tune import check_reachable

        if args.executor == "ray":
            check_reachable(args.address, args.connect_timeout)

        result = run_experiment_on(args.executor, args.name, args.quick, args.out, args.device, args.seed, say_line,
                                   args.dataset, args.data_dir, jobs=args.jobs, threads=args.threads, address=args.address,
                                   cpus_per_trial=args.cpus_per_trial, gpus_per_trial=args.gpus_per_trial,
                                   capture=args.capture, **options)
        return {"executor": result.get("executor"), **brief(result)}
    result = run_experiment(args.name, out=args.out, say=say_line, progress=Progress.for_command(args), **common, **options)
    return brief(result)


def register(subparsers, common) -> None:
    from .registry import EXPERIMENTS

    exp = subparsers.add_parser("experiment", help="reproduce the lectures' findings")
    sub = exp.add_subparsers(dest="experiment_command", required=True, parser_class=Parser, metavar="ACTION")
    add_command(sub, "list", cmd_list, common, help="the experiments and what each reproduces")
    run = add_command(sub, "run", cmd_run, common, help="run one experiment: results.json, figures, a table",
                      description="Run one experiment at the lecture's settings (or --quick) and write "
                                  "results.json and PNG figures to --out.")
    run.add_argument("name", choices=(*EXPERIMENTS, "all"), metavar="NAME",
                     help=", ".join(EXPERIMENTS) + "; or all (every one, --jobs at a time)")
    data_options(run)
    run.add_argument("--quick", action="store_true", help="a small version (under a minute on a 2-core CPU)")
    run.add_argument("--out", help="output folder (default: experiments/NAME or experiments/NAME-quick; with all, "
                                   "the folder that holds them)")
    run.add_argument("--jobs", type=COUNT,
                     help="with all: experiments side by side in separate processes, longest first, each with "
                          "cores/jobs threads (default: 1; 2 on a 2-core CPU); with --executor local: configurations "
                          "at once (default: the cores)")
    device_option(run)
    capture_option(run)
    run.add_argument("--seed", type=int, default=0, help="same seed, same device: same numbers (default: 0)")
    run.add_argument("--threads", type=COUNT, help="CPU threads for torch (default: torch's choice)")
    run.add_argument("--executor", choices=("local", "ray"),
                     help="train the configurations on worker processes (local) or a Ray cluster (ray), same results "
                          "at the same --threads (default: one after another in this process)")
    run.add_argument("--address", help="ray: HOST:PORT of the cluster, or auto (default: start a local Ray and stop it after)")
    connect_timeout_option(run)
    run.add_argument("--cpus-per-trial", type=float, default=1, help="ray: CPUs per configuration (default: 1)")
    run.add_argument("--gpus-per-trial", type=float, default=0, help="ray: GPUs per configuration (default: 0)")
    run.add_argument("--digit", type=int, default=7, choices=range(10), metavar="D",
                     help="missing-class: the digit left out of training (default: 7)")
