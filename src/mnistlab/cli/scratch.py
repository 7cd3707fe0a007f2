"""The `mnistlab scratch` sub-commands: demo, train, gradcheck."""
from __future__ import annotations

import argparse

from ..argtypes import SEED
from ..data import load_dataset
from ..progress import Progress
from ..scratch.autograd import lecture_example, trace
from ..scratch.cnn import fit
from ..scratch.gradcheck import gradcheck
from .common import Parser, add_command, data_options, say


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


def cmd_train(args: argparse.Namespace) -> dict:
    dataset = load_dataset(args.dataset, args.data_dir)
    say(args, f"training the NumPy CNN on {dataset.name} ({len(dataset.train_labels)} train / "
              f"{len(dataset.test_labels)} test images)")
    progress = Progress.for_command(args)

    def on_step(epoch: int, step: int, steps: int) -> None:
        progress.show(f"epoch {epoch}/{args.epochs} step {step}/{steps}", ((epoch - 1) * steps + step) / (args.epochs * steps))

    try:
        progress.begin("scratch train")
        result = fit(dataset, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, method=args.optimizer,
                     seed=args.seed, log=progress.printer(lambda line: say(args, line)), on_step=on_step)
    finally:
        progress.close()
    say(args, f"train accuracy {result['train_accuracy']:.4f}, test accuracy {result['test_accuracy']:.4f}, "
              f"{result['seconds']:.1f} s in all")
    return result


def cmd_gradcheck(args: argparse.Namespace) -> dict:
    result = gradcheck()
    say(args, *(f"{check['relative_error']:9.2e}  {check['name']}" for check in result["checks"]),
        f"max relative error {result['max_relative_error']:.2e}", "", trace(lecture_example()[0]))
    return result


def register(subparsers, common) -> None:
    scratch = subparsers.add_parser("scratch", help="the NumPy from-scratch engine: patches, filters, pooling, "
                                                    "a hand-written CNN, autograd")
    sub = scratch.add_subparsers(dest="scratch_command", required=True, parser_class=Parser, metavar="ACTION")

    demo = add_command(sub, "demo", cmd_demo, common, help="write the walk-through's figures (PNG) into a folder")
    demo.add_argument("--out", required=True, help="folder for the figures (created if missing)")
    data_options(demo, formats=False)

    train = add_command(sub, "train", cmd_train, common, help="train the NumPy CNN with hand-written backprop")
    data_options(train, formats=False)
    train.add_argument("--epochs", type=int, default=2, help="passes over the training set (default: 2)")
    train.add_argument("--batch-size", type=int, default=100, help="images per step (default: 100)")
    train.add_argument("--lr", type=float, default=1e-3, help="learning rate (default: 0.001)")
    train.add_argument("--optimizer", choices=("adam", "sgd"), default="adam", help="(default: adam)")
    train.add_argument("--seed", type=SEED, default=0, help="initial weights and batch order (default: 0)")

    add_command(sub, "gradcheck", cmd_gradcheck, common,
                help="hand-written gradients vs finite differences, and L4's autograd example")
