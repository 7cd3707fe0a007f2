"""`mnistlab finetune RUN_DIR DIGITS`: learn your own digits (saved by `mnistlab serve`) without forgetting MNIST."""
from __future__ import annotations

import argparse

from ..argtypes import bounded
from ..data import load_dataset
from ..tables import pct
from ..train.choices import FineTune
from .common import add_command, data_options, device_option, say


def cmd_finetune(args: argparse.Namespace) -> dict:
    # torch loads when the command runs, not when the parser is built
    from ..train.finetune import finetune
    from ..train.run import default_run_dir, reserve_out_dir

    out = reserve_out_dir(args.out or default_run_dir())
    base = load_dataset(args.dataset, args.data_dir)
    tuned, result = finetune(args.run_dir, args.digits, base, FineTune(args.mix, epochs=args.epochs, lr=args.lr,
                                                                      seed=args.seed, device=args.device))
    tuned.save(out)
    b, a = result["before"], result["after"]
    say(args, f"fine-tuned {args.run_dir} on your {result['n_digits']} digits (each seen {result['repeat']}x per epoch) "
              f"mixed with {result['mixed_with']:,} {base.name} training images",
        f"your digits:     {pct(b['digits'])} -> {pct(a['digits'])}",
        f"{base.name} test set: {pct(b['mnist'])} -> {pct(a['mnist'])}", f"run saved to {out}",
        f"next: mnistlab serve {out} --digits {args.digits}")
    return {"run_dir": str(out), **result}


def register(subparsers, common) -> None:
    tune = add_command(subparsers, "finetune", cmd_finetune, common, first=lambda args: f"fine-tuning {args.run_dir} on "
                       f"the digits in {args.digits} mixed with {args.mix:,} {args.data_dir or args.dataset} training images",
                       help="learn your own digits (saved by serve) without forgetting MNIST",
                       description="Fine-tune a run on a folder of your digits (DIGITS/<class>/*.png, as `mnistlab serve` "
                                   "saves them) mixed with MNIST training images; prints the accuracy on your digits and "
                                   "on the MNIST test set, before and after.")
    tune.add_argument("run_dir", help="the run to start from")
    tune.add_argument("digits", help="folder of your digits, DIGITS/<class>/*.png")
    tune.add_argument("--mix", type=bounded(int, 0, 60_000), default=FineTune.mix,
                      help=f"MNIST training images mixed in; yours make a tenth of the mix (default: {FineTune.mix})")
    tune.add_argument("--epochs", type=bounded(float, 0.01, 100), default=FineTune.epochs,
                      help=f"passes over the mix (default: {FineTune.epochs:g})")
    tune.add_argument("--lr", type=bounded(float, 1e-7, 1.0), default=FineTune.lr, help=f"peak learning rate (default: {FineTune.lr:g})")
    tune.add_argument("--seed", type=bounded(int, 0, 2**32 - 1), default=FineTune.seed, help=f"seed (default: {FineTune.seed})")
    tune.add_argument("--out", help="run directory to write (default: runs/<date>-<time>)")
    tune.add_argument("--dataset", default="mnist", help="the data set mixed in and tested on (default: mnist)")
    data_options(tune, formats=False, dataset=False)
    device_option(tune, "auto")
