"""`mnistlab bench`: time to accuracy of our recipes against the published ones, in one process."""
from __future__ import annotations

import argparse

from ..bench.lineup import RECIPES, chosen
from ..errors import UserError
from ..fileio import check_output, check_space, write_json
from ..progress import Progress
from ..tables import pct
from .common import add_command, capture_option, data_named, data_options, device_option, load_data, say


def _seconds(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def cmd_bench(args: argparse.Namespace) -> dict:
    # torch loads when the command runs, not when the parser is built
    import torch

    from ..bench.timing import BenchSpec, bench

    if args.out:  # checked before minutes of work, as every --out is
        check_output(args.out, folder=False)
        check_space(args.out, 0)
    ds = load_data(args)
    say(args, f"data: {ds.name} from {ds.source}: {len(ds.train_labels)} train / {len(ds.test_labels)} test images; "
              f"{torch.get_num_threads()} thread(s)",
        f"{'recipe':<18}{'seed':>5}{'to target s':>13}{'final acc':>11}{'train s':>9}{'eval s':>8}{'img/s':>9}{'peak MB':>9}"
        f"{'capture s':>11}")
    recipes = checked(args)
    order = [(r, s) for s in range(args.seeds) for r in recipes]  # bench's order: seeds outer, recipes inner
    progress, done = Progress.for_command(args), []

    def running(k: int, note: str = "") -> None:
        if k < len(order):
            progress.show(f"run {k + 1}/{len(order)}: {order[k][0]} seed {order[k][1]}{note}", k / len(order), force=True)

    print_line = progress.printer(lambda text: say(args, text))

    def line(r: dict) -> None:
        print_line(f"{r['recipe']:<18}{r['seed']:>5}{_seconds(r['time_to_target_s']):>13}{pct(r['final_accuracy']):>11}"
                   f"{r['train_s']:>9.2f}{r['eval_s']:>8.2f}{r['images_per_s']:>9}{r['peak_mem_mb']:>9}{r['capture_s']:>11.3f}")
        done.append(r)
        running(len(done))

    try:
        progress.begin("bench")
        running(0, "" if args.no_warmup else " (after the warm-up steps)")
        spec = BenchSpec(recipes, args.seeds, args.target, args.device, args.max_epochs, args.evals_per_epoch,
                         not args.no_warmup, args.capture)
        report = bench(ds, spec, on_result=line)
    finally:
        progress.close()
    report["data"] = ds.describe()
    say(args, "", f"{'recipe':<18}{'median to target s':>20}{'ratio to ref':>14}{'mean acc':>10}{'reached':>9}")
    for recipe, row in report["summary"].items():
        ratio = row["time_ratio_to_fast_reference"]
        say(args, f"{recipe:<18}{_seconds(row['median_time_to_target_s']):>20}{'-' if ratio is None else f'{ratio:.3f}x':>14}"
                  f"{pct(row['mean_accuracy']):>10}{row['runs_reaching_target']:>5}/{row['runs']}")
    if args.out:
        write_json(args.out, report)
        say(args, f"results written to {args.out}")
    return report


def checked(args: argparse.Namespace) -> list[str]:
    """The recipes to time, once the options are checked (cheap: before the first line, the data and torch)."""
    if not 0 < args.target <= 1:
        raise UserError(f"--target {args.target}: a test accuracy as a fraction, e.g. 0.99")
    return chosen([r.strip() for r in args.recipes.split(",")] if args.recipes else None)


def first(args: argparse.Namespace) -> str:
    """What `bench` is about to do, from the options alone (main() says it before torch loads)."""
    checked(args)
    return (f"timing {args.recipes or f'all {len(RECIPES)} recipes'}, {args.seeds} seed(s) each, to {pct(args.target)} "
            f"test accuracy on {data_named(args)}")


def register(subparsers, common) -> None:
    p = add_command(subparsers, "bench", cmd_bench, common, first=first, help="time to accuracy against reference recipes",
                    description="Train reference recipes and ours in one process on the same data and device, "
                                "interleaving seeds, and report the training seconds until the test accuracy "
                                "first reaches --target.")
    data_options(p)
    p.add_argument("--recipes", help=f"comma-separated, from: {', '.join(RECIPES)} (default: all)")
    p.add_argument("--seeds", type=int, default=3, help="runs per recipe (default: 3)")
    p.add_argument("--target", type=float, default=0.99, help="test accuracy to reach, a fraction (default: 0.99)")
    device_option(p)
    capture_option(p, "our recipes (the published ones run as published, eagerly)")
    p.add_argument("--max-epochs", type=int, default=14,
                   help="epoch cap of pytorch-examples (which stops once it reaches the target) and mnistlab-best "
                        "(whose schedule then fits the cap) (default: 14, the examples' own count)")
    p.add_argument("--evals-per-epoch", type=int, default=10, help="test evaluations per epoch (default: 10)")
    p.add_argument("--no-warmup", action="store_true", help="skip the untimed warm-up steps of each recipe")
    p.add_argument("--out", help="also write the JSON report to this file")
