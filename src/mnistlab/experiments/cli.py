"""`mnistlab experiment list` and `mnistlab experiment run NAME`."""
from __future__ import annotations

import argparse

from ..clitools import Parser, add_command, data_options, device_option, say


def cmd_list(args: argparse.Namespace) -> dict:
    from .registry import describe

    rows = describe()
    width = max(len(r["name"]) for r in rows)
    say(args, *(f"{r['name']:<{width}}  {r['title']}" for r in rows))
    return {"experiments": rows}


def cmd_run(args: argparse.Namespace) -> dict:
    from ..train.device import set_threads
    from .registry import run_experiment

    set_threads(args.threads)
    options = {"digit": args.digit} if args.name == "missing-class" else {}
    common = (args.name, args.quick, args.out, args.device, args.seed, lambda line: say(args, line), args.dataset, args.data_dir)
    if args.executor:
        from ..sweep.experiments import run_experiment_on

        result = run_experiment_on(args.executor, *common, jobs=args.jobs, threads=args.threads, address=args.address,
                                   cpus_per_trial=args.cpus_per_trial, gpus_per_trial=args.gpus_per_trial, **options)
    else:
        result = run_experiment(*common, **options)
    return {"executor": result.get("executor"),
            "name": result["name"], "summary": result["summary"], "results_path": result["results_path"],
            "figures": result["figures"], "seconds": result["seconds"], "device": result["device"],
            "quick": result["quick"], "table": result["table"]}


def register(subparsers, common) -> None:
    from .registry import EXPERIMENTS

    exp = subparsers.add_parser("experiment", help="reproduce the lectures' findings")
    sub = exp.add_subparsers(dest="experiment_command", required=True, parser_class=Parser, metavar="ACTION")
    add_command(sub, "list", cmd_list, common, help="the experiments and what each reproduces")
    run = add_command(sub, "run", cmd_run, common, help="run one experiment: results.json, figures, a table",
                      description="Run one experiment at the lecture's settings (or --quick) and write "
                                  "results.json and PNG figures to --out.")
    run.add_argument("name", choices=EXPERIMENTS, metavar="NAME", help=", ".join(EXPERIMENTS))
    data_options(run)
    run.add_argument("--quick", action="store_true", help="a small version (under a minute on a 2-core CPU)")
    run.add_argument("--out", help="output folder (default: experiments/NAME or experiments/NAME-quick)")
    device_option(run)
    run.add_argument("--seed", type=int, default=0, help="same seed, same device: same numbers (default: 0)")
    run.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's choice)")
    run.add_argument("--executor", choices=("local", "ray"),
                     help="train the configurations on worker processes (local) or a Ray cluster (ray), same results "
                          "at the same --threads (default: one after another in this process)")
    run.add_argument("--jobs", type=int, help="local executor: configurations at once (default: the cores)")
    run.add_argument("--address", help="ray: HOST:PORT of the cluster, or auto (default: start a local Ray and stop it after)")
    run.add_argument("--cpus-per-trial", type=float, default=1, help="ray: CPUs per configuration (default: 1)")
    run.add_argument("--gpus-per-trial", type=float, default=0, help="ray: GPUs per configuration (default: 0)")
    run.add_argument("--digit", type=int, default=7, choices=range(10), metavar="D",
                     help="missing-class: the digit left out of training (default: 7)")
