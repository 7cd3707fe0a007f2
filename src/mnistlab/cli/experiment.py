"""`mnistlab experiment list` and `mnistlab experiment run NAME`."""
from __future__ import annotations

import argparse

from ..argtypes import COUNT
from ..experiments.registry import EXPERIMENTS, Setup, describe, opening, run_experiment, run_suite
from ..progress import Progress
from ..sweep.executors import add_executor_options, executor_spec
from .common import Parser, add_command, capture_option, data_named, data_options, device_option, say


def cmd_list(args: argparse.Namespace) -> dict:
    rows = describe()
    width = max(len(r["name"]) for r in rows)
    say(args, *(f"{r['name']:<{width}}  {r['title']}" for r in rows))
    return {"experiments": rows}


def brief(result: dict) -> dict:
    return {k: result[k] for k in ("name", "summary", "results_path", "figures", "seconds", "cpu_seconds", "reused", "device",
                                   "quick", "table", "capture", "capture_s")}


def timing(result: dict) -> str:
    """One experiment of a suite: its wall and CPU seconds, and how many of its trainings another one had done."""
    reused = f"  ({result['reused']} training(s) reused)" if result["reused"] else ""
    return f"{result['name']:<18} {result['seconds']:>8.1f} s wall {result['cpu_seconds']:>8.1f} s CPU{reused}"


def cmd_run(args: argparse.Namespace) -> dict:
    setup = Setup(quick=args.quick, out=args.out, device=args.device, seed=args.seed, dataset=args.dataset,
                  data_dir=args.data_dir, capture=args.capture)
    if args.name == "all":
        own = {key: getattr(args, key) for e in EXPERIMENTS.values() for key in e.options}
        suite = run_suite(list(EXPERIMENTS), args.jobs or 1, args.out, quiet=args.json,
                          **{k: v for k, v in vars(setup).items() if k != "out"}, **own)
        say(args, "", *map(timing, suite["experiments"]),
            f"all {len(suite['experiments'])} experiments: {suite['wall_seconds']:.1f} s wall, {suite['jobs']} at a time "
            f"({suite['threads_per_job']} thread(s) each)")
        return {**suite, "experiments": [brief(r) for r in suite["experiments"]]}
    options = {key: getattr(args, key) for key in EXPERIMENTS[args.name].options}
    said = first(args)  # main() said the experiment's opening line before torch loaded: not twice
    say_line = lambda line: None if line == said else say(args, line)  # noqa: E731
    executor = executor_spec(args)
    if executor:
        from ..experiments.replay import run_experiment_on  # torch: only with --executor, when the command runs

        result = run_experiment_on(args.name, setup, executor, say=say_line, **options)
        return {"executor": result.get("executor"), **brief(result)}
    result = run_experiment(args.name, setup, say=say_line, progress=Progress.for_command(args), **options)
    return brief(result)


def first(args: argparse.Namespace) -> str:
    """What `experiment run` is about to do, from the options alone (main() says it before torch loads)."""
    if args.name == "all":
        return (f"running all {len(EXPERIMENTS)} experiments{' (quick)' if args.quick else ''}, {args.jobs or 1} at a time, "
                f"on {data_named(args)}")
    return opening(args.name, args.quick)


def register(subparsers, common) -> None:
    exp = subparsers.add_parser("experiment", help="reproduce the lectures' findings")
    sub = exp.add_subparsers(dest="experiment_command", required=True, parser_class=Parser, metavar="ACTION")
    add_command(sub, "list", cmd_list, common, help="the experiments and what each reproduces")
    run = add_command(sub, "run", cmd_run, common, first=first, help="run one experiment: results.json, figures, a table",
                      description="Run one experiment at the lecture's settings (or --quick) and write "
                                  "results.json and PNG figures to --out.")
    run.add_argument("name", choices=(*EXPERIMENTS, "all"), metavar="NAME",
                     help=", ".join(EXPERIMENTS) + "; or all (every one, --jobs at a time)")
    data_options(run, formats=False)
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
    add_executor_options(run, None, "train the configurations on worker processes (local) or a Ray cluster (ray), same "
                                    "results at the same --threads (default: one after another in this process)")
    for e in EXPERIMENTS.values():
        for key, option in e.options.items():
            run.add_argument("--" + key.replace("_", "-"), type=option.type, default=option.default, choices=option.choices,
                             metavar=option.metavar, help=f"{e.name}: {option.help} (default: {option.default})")
