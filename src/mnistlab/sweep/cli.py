"""`mnistlab sweep`: search training options and model specs, locally or on a Ray cluster."""
from __future__ import annotations

import argparse

from ..clitools import COUNT, add_command, connect_timeout_option, data_options, device_option, say
from .space import OPTIONS, flag

EXAMPLES = """examples:
  mnistlab sweep --model "c{8,16,32}k{3,5} m2 f{64,128}" --lr 1e-4..1e-1:log --search random --trials 24 --stop-early
  mnistlab sweep --optimizer sgd,adam,rmsprop --batch-size 32,128 --lr 1e-3..1e-1:log:3 --search grid
  mnistlab sweep --space sweep.toml --executor ray --address auto
values: a,b,c (choices); LOW..HIGH[:log|:lin][:POINTS] (a range; POINTS for a grid); a model template
expands {a,b} braces, and specs that cannot work on the data are reported and left out."""


def cmd_sweep(args: argparse.Namespace) -> dict:
    from ..train.device import set_threads
    from ..train.run import default_run_dir
    from .runner import run_sweep
    from .space import load_toml

    values = load_toml(args.space) if args.space else {}
    values.update({name: getattr(args, name) for name in OPTIONS if getattr(args, name) is not None})
    set_threads(args.threads)
    if args.executor == "ray":
        from .ray_tune import check_reachable

        check_reachable(args.address, args.connect_timeout)
    search = args.search or ("random" if args.trials else "grid")
    return run_sweep(values, out=args.out or default_run_dir("sweeps"), search=search, trials=args.trials,
                     seed=args.search_seed, metric=args.metric, recipe=args.recipe, dataset=args.dataset,
                     data_dir=args.data_dir, val=args.val, train_size=args.train_size, executor=args.executor,
                     device=args.device, jobs=args.jobs, threads=args.threads, address=args.address,
                     cpus_per_trial=args.cpus_per_trial, gpus_per_trial=args.gpus_per_trial, stop_early=args.stop_early,
                     reduction_factor=args.reduction_factor, resume=args.resume, say=lambda line: say(args, line))


def register(subparsers, common) -> None:
    from ..train.recipes import RECIPES
    from .runner import METRICS
    from .search import SEARCHES

    sw = add_command(subparsers, "sweep", cmd_sweep, common, help="search training options and model specs",
                     description="Train many configurations, judge them on a validation split, keep the best as a run "
                                 "directory and write sweep.json, a table and figures.",
                     epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    space = sw.add_argument_group("search space (each: a value, a,b,c choices, or LOW..HIGH[:log|:lin][:POINTS])")
    space.add_argument("--space", metavar="TOML", help="a TOML file of option = value lines; the command line overrides it")
    for name in OPTIONS:
        space.add_argument(flag(name), dest=name, metavar="VALUES",
                           help="model template, e.g. 'c{8,16}k{3,5} m2 f{64,128}'" if name == "model" else None)
    sw.add_argument("--recipe", default="default", choices=RECIPES,
                    help="options outside the space come from this recipe (default: default)")
    sw.add_argument("--search", choices=SEARCHES,
                    help="grid, random or tpe (Optuna) (default: grid, or random where --trials is given)")
    sw.add_argument("--trials", type=COUNT, help="number of trials for random and tpe (grid: the first N)")
    sw.add_argument("--search-seed", type=int, default=0, help="seed of the random and TPE samplers (default: 0)")
    sw.add_argument("--metric", default="val_accuracy", choices=METRICS,
                    help="what chooses the best trial, on the validation split (default: val_accuracy)")
    sw.add_argument("--stop-early", action="store_true", help="ASHA: stop trials in the bottom of each rung (epochs 1, 3, 9...)")
    sw.add_argument("--reduction-factor", type=int, default=3, help="ASHA keeps the best 1/N at each rung (default: 3)")
    data_options(sw)
    sw.add_argument("--val", type=int, help="validation images carved off the end of train (default: a sixth)")
    sw.add_argument("--train-size", type=int, help="train on the first N training images only")
    sw.add_argument("--executor", default="local", choices=("local", "ray"), help="where trials run (default: local)")
    sw.add_argument("--jobs", type=COUNT, help="local: trials at once (default: the cores)")
    sw.add_argument("--threads", type=COUNT, help="torch threads per trial (default: cores / jobs)")
    sw.add_argument("--address", help="ray: HOST:PORT of the cluster, or auto (default: start a local Ray and stop it after)")
    connect_timeout_option(sw)
    sw.add_argument("--cpus-per-trial", type=float, default=1, help="ray: CPUs per trial (default: 1)")
    sw.add_argument("--gpus-per-trial", type=float, default=0, help="ray: GPUs per trial (default: 0)")
    device_option(sw, "cpu")
    sw.add_argument("--resume", action="store_true", help="continue the sweep in --out, skipping finished trials")
    sw.add_argument("--out", help="sweep folder (default: sweeps/<date>-<time>)")
