"""`mnistlab sweep`: search training options and model specs, locally or on a Ray cluster."""
from __future__ import annotations

import argparse

from ..argtypes import COUNT
from ..progress import Progress
from ..sweep.executors import add_executor_options, executor_spec
from ..sweep.runner import METRICS, SweepSpec, run_sweep
from ..sweep.search import SEARCHES
from ..sweep.space import OPTIONS, flag, load_toml
from ..train.recipes import RECIPES
from .common import add_command, data_named, data_options, device_option, read_options, say

EXAMPLES = """examples:
  mnistlab sweep --model "c{8,16,32}k{3,5} m2 f{64,128}" --lr 1e-4..1e-1:log --search random --trials 24 --stop-early
  mnistlab sweep --optimizer sgd,adam,rmsprop --batch-size 32,128 --lr 1e-3..1e-1:log:3 --search grid
  mnistlab sweep --space sweep.toml --executor ray --address auto
values: a,b,c (choices); LOW..HIGH[:log|:lin][:POINTS] (a range; POINTS for a grid); a model template
expands {a,b} braces, and specs that cannot work on the data are reported and left out."""


def cmd_sweep(args: argparse.Namespace) -> dict:
    from ..train.run import default_run_dir  # torch: loads when the command runs, not when the parser is built

    values = load_toml(args.space) if args.space else {}
    values.update({name: getattr(args, name) for name in OPTIONS if getattr(args, name) is not None})
    spec = SweepSpec(out=args.out or default_run_dir("sweeps"), search=args.search or ("random" if args.trials else "grid"),
                     trials=args.trials, seed=args.search_seed, metric=args.metric, recipe=args.recipe,
                     dataset=args.dataset, data_dir=args.data_dir, read=read_options(args) and read_options(args).to_dict(),
                     val=args.val, train_size=args.train_size,
                     device=args.device, stop_early=args.stop_early, reduction_factor=args.reduction_factor,
                     resume=args.resume, folds=args.folds)
    with Progress.for_command(args) as progress:  # trials report as they end; between them the clock keeps moving
        progress.begin("sweep")
        return run_sweep(values, spec, executor_spec(args), say=progress.printer(lambda line: say(args, line)))


def first(args: argparse.Namespace) -> str:
    """What `sweep` is about to do, from the options alone (main() says it before torch loads)."""
    given = [flag(name) for name in OPTIONS if getattr(args, name) is not None]
    over = " and ".join(filter(None, [", ".join(given), args.space and f"the space in {args.space}"])) or "nothing"
    return (f"{'resuming the sweep' if args.resume else 'sweeping'} over {over} with the '{args.recipe}' recipe on "
            f"{data_named(args)}, trials on the {args.executor} executor" + (f", into {args.out}" if args.out else ""))


def register(subparsers, common) -> None:
    sw = add_command(subparsers, "sweep", cmd_sweep, common, first=first, help="search training options and model specs",
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
    sw.add_argument("--folds", type=int, metavar="K", help="score each trial by the mean validation figures of a "
                                                           "stratified K-fold cross-validation of the training set")
    add_executor_options(sw, "local", "where trials run (default: local)")
    device_option(sw, "cpu", "trials run side by side in worker processes, each on its share of the CPU cores")
    sw.add_argument("--resume", action="store_true", help="continue the sweep in --out, skipping finished trials")
    sw.add_argument("--out", help="sweep folder (default: sweeps/<date>-<time>)")
