"""The `mnistlab scratch` sub-commands: demo, train, compare, gradcheck."""
from __future__ import annotations

import argparse

from ..argtypes import SEED
from ..data import load_dataset
from ..progress import Progress
from ..scratch.autograd import lecture_example, trace
from ..scratch.gradcheck import gradcheck
from ..tables import pct
from .common import Parser, add_command, data_named, data_options, say


def cmd_demo(args: argparse.Namespace) -> dict:
    # matplotlib loads when the figures are drawn, not when the parser is built
    from ..fileio import check_output
    from ..scratch.figures import demo

    check_output(args.out)
    result = demo(load_dataset(args.dataset, args.data_dir), args.out)
    say(args, *(f"wrote {path}" for path in result["files"].values()),
        "filter responses (patch: diagonal, antidiagonal, horizontal, vertical):",
        *(f"  {patch:<14} " + " ".join(f"{r:+6.0f}" for r in row.values())
          for patch, row in result["responses"].items()))
    return result


def _plan(args: argparse.Namespace, n_train: int):
    # torch's recipes and StepPlan: read when a command runs, not when the parser is built
    from ..scratch.recipes import scratch_plan

    given = {key: getattr(args, key) for key in ("epochs", "batch_size", "lr", "optimizer", "seed")
             if getattr(args, key) is not None}
    return scratch_plan(args.recipe, n_train, args.model, args.activation, **given)


def _threads() -> int:
    """The count `mnistlab --threads` resolved for torch (auto: the idle cores): NumPy's BLAS gets the same."""
    import torch  # torch: main() has already loaded it to set its threads

    return torch.get_num_threads()


def cmd_train(args: argparse.Namespace) -> dict:
    from ..scratch.trainer import fit_plan, new_net  # the engine loads with the command (see _plan)

    dataset = load_dataset(args.dataset, args.data_dir)
    plan = _plan(args, len(dataset.train_labels))
    net = new_net(plan, dataset)  # a spec the engine cannot run is refused before anything is said
    say(args, f"model {plan.spec!r}, {len(dataset.train_labels)} train / {len(dataset.test_labels)} test images of "
              f"{dataset.name}, {plan.total_steps} steps")
    progress = Progress.for_command(args)
    try:
        progress.begin("scratch train")
        result = fit_plan(dataset, plan, _threads(), net, log=progress.printer(lambda line: say(args, line)),
                          on_step=lambda step, loss: progress.show(
                              f"epoch {step // plan.steps_per_epoch + 1}/{plan.epochs} step "
                              f"{step % plan.steps_per_epoch + 1}/{plan.steps_per_epoch} loss {loss:.4f}",
                              (step + 1) / plan.total_steps))
    finally:
        progress.close()
    blas = result["blas"]
    say(args, f"test accuracy {pct(result['test_accuracy'])}, {result['train_seconds']:.1f} s of training "
              f"({result['seconds_per_epoch']:.1f} s per epoch), {result['seconds']:.1f} s in all",
        f"BLAS: {blas['library']} {blas.get('version', '')} kernel {blas.get('kernel')} ({blas.get('simd')}), "
        f"{blas['threads']} thread(s)",
        "time: " + ", ".join(f"{kind} {s:.1f} s" for kind, s in result["time_split"].items()))
    return result


def cmd_compare(args: argparse.Namespace) -> dict:
    from ..scratch.compare import compare, compare_table  # torch's side loads with the command (see _plan)

    dataset = load_dataset(args.dataset, args.data_dir)
    result = compare(dataset, _plan(args, len(dataset.train_labels)), _threads(), log=lambda line: say(args, line))
    say(args, "", compare_table(result))
    return result


def cmd_gradcheck(args: argparse.Namespace) -> dict:
    result = gradcheck()
    say(args, *(f"{check['relative_error']:9.2e}  {check['name']}" for check in result["checks"]),
        f"max relative error {result['max_relative_error']:.2e}", "", trace(lecture_example()[0]))
    return result


def recipe_options(parser: argparse.ArgumentParser) -> None:
    """The recipe, and what may replace its choices (left out: the recipe's own, from train/recipes.py)."""
    data_options(parser, formats=False)
    parser.add_argument("--recipe", default="default", help="the `mnistlab train` recipe whose network and "
                                                            "hyperparameters to use (default: default)")
    parser.add_argument("--model", help="a model spec of the shared grammar instead of the recipe's, e.g. "
                                        "'c20k5s2 f100' (the NumPy engine runs crop, c, m, a, f and o tokens)")
    parser.add_argument("--activation", choices=("relu", "tanh", "sigmoid", "linear"), help="(default: the recipe's)")
    parser.add_argument("--epochs", type=float, help="passes over the training set (default: the recipe's)")
    parser.add_argument("--batch-size", type=int, help="images per step (default: the recipe's)")
    parser.add_argument("--lr", type=float, help="(peak) learning rate (default: the recipe's)")
    parser.add_argument("--optimizer", choices=("adam", "sgd"), help="(default: the recipe's)")
    parser.add_argument("--seed", type=SEED, help="initial weights and batch order (default: the recipe's, 0)")


def register(subparsers, common) -> None:
    scratch = subparsers.add_parser("scratch", help="the NumPy from-scratch engine: patches, filters, pooling, "
                                                    "hand-written backprop, autograd; trains the default recipe")
    sub = scratch.add_subparsers(dest="scratch_command", required=True, parser_class=Parser, metavar="ACTION")

    demo = add_command(sub, "demo", cmd_demo, common,
                       first=lambda args: f"writing the walk-through's figures of {data_named(args)} into {args.out}",
                       help="write the walk-through's figures (PNG) into a folder")
    demo.add_argument("--out", required=True, help="folder for the figures (created if missing)")
    data_options(demo, formats=False)

    recipe_options(add_command(sub, "train", cmd_train, common, first=lambda args: f"training the '{args.recipe}' "
                               f"recipe's network in NumPy on {data_named(args)}",
                               help="train a recipe's network in NumPy (default: the default recipe, 99%% in 2 epochs)"))
    recipe_options(add_command(sub, "compare", cmd_compare, common, first=lambda args: f"training the '{args.recipe}' "
                               f"recipe's network in NumPy and in PyTorch on {data_named(args)}, step by step",
                               help="the same spec, initial weights, batches and schedule in NumPy and in PyTorch: "
                                    "loss difference per step, accuracies, seconds per epoch"))
    add_command(sub, "gradcheck", cmd_gradcheck, common,
                first=lambda args: "checking every hand-written gradient against finite differences",
                help="every hand-written gradient vs finite differences, and L4's autograd example")
