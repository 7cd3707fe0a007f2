"""The `mnistlab` command: a thin layer over the public functions.

Each sub-command handler takes the parsed arguments and returns a JSON-able dict;
with --json that dict is the only thing on stdout, otherwise the handler prints
a human-readable account through `say`. A UserError becomes one line on stderr
and exit status 2.
"""
from __future__ import annotations

import argparse
import importlib
import json
import math
import sys

from .clitools import Parser, add_command, common_parser, data_options, device_option, pct, say
from .errors import UserError

# Feature areas that add their own sub-commands: each module has register(subparsers, common).
EXTENSIONS: tuple[str, ...] = ("mnistlab.scratch.cli", "mnistlab.inspect.commands", "mnistlab.serve.cli", "mnistlab.bench",
                               "mnistlab.experiments.cli", "mnistlab.sweep.cli")


def cmd_data_info(args: argparse.Namespace) -> dict:
    from .data import load_dataset
    from .data.info import data_info

    info = data_info(load_dataset(args.dataset, args.data_dir))
    say(args,
        f"{info['name']}: {info['n_train']} train / {info['n_test']} test images from {info['source']} ({info['path']})",
        f"image size {info['height']}x{info['width']}, pixels {info['pixel_min']}..{info['pixel_max']}",
        "class counts (train): " + ", ".join(f"{c}: {n}" for c, n in info["class_counts"].items()))
    return info


# Options a recipe presets (mnistlab.train.recipes); `mnistlab train` without --recipe uses "default".
RECIPE_OPTIONS = ("model", "activation", "head", "epochs", "batch_size", "optimizer", "lr", "schedule", "weight_decay",
                  "normalize", "precision", "channels_last", "augment")


def apply_recipe(args: argparse.Namespace) -> dict:
    """Fill every option the user left out from the chosen recipe; return the options tied to the recipe's own
    optimizer, schedule and model (`recipes.tied_options`), with the user's --label-smoothing if given."""
    from .train.recipes import recipe_settings, tied_options

    settings = recipe_settings(args.recipe or "default")
    for name in RECIPE_OPTIONS:
        if getattr(args, name) is None:
            setattr(args, name, settings[name])
    tied = tied_options(settings, args.optimizer, args.schedule, args.model)
    if args.label_smoothing is not None:
        tied["label_smoothing"] = args.label_smoothing
    return tied


def epoch_line(row: dict, epochs: float) -> str:
    epochs = math.ceil(epochs)  # the last epoch of a fractional count is a short one
    val = f"  val {row['val_loss']:.4f} / {pct(row['val_accuracy'])}" if row["val_loss"] is not None else ""
    return (f"epoch {row['epoch']:>{len(str(epochs))}}/{epochs}  train loss {row['train_loss']:.4f} acc {pct(row['train_accuracy'])}"
            f"{val}  test loss {row['test_loss']:.4f} acc {pct(row['test_accuracy'])}  ({row['seconds']:.1f}s)")


def cmd_train(args: argparse.Namespace) -> dict:
    from .data import load_dataset
    from .data.splits import make_splits
    from .inspect.histograms import WeightRecorder
    from .models import build_model, parse_spec, summary_text
    from .train import TrainConfig, fit, resolve_device
    from .train.run import check_out_dir, default_run_dir

    recipe_options = apply_recipe(args)
    options = dict(epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr,
                   loss=args.loss, schedule=args.schedule, weight_decay=args.weight_decay, seed=args.seed,
                   device=args.device, precision=args.precision, channels_last=args.channels_last,
                   augment=args.augment, eval_every=args.eval_every,
                   max_steps=args.max_steps, **recipe_options)
    TrainConfig(**options).check()  # refuse bad options and layer tokens before loading anything
    parse_spec(args.model)
    for name in ("val", "train_size"):
        value = getattr(args, name)
        if value is not None and value < (0 if name == "val" else 1):
            raise UserError(f"--{name.replace('_', '-')} {value}: must be at least {0 if name == 'val' else 1}")
    out = check_out_dir(args.out or default_run_dir())
    device = resolve_device(args.device)
    ds = load_dataset(args.dataset, args.data_dir)
    splits = make_splits(ds, args.normalize, args.val, args.train_size, device)
    model = build_model(args.model, args.activation, args.head, tuple(splits.x_train.shape[1:]), len(ds.classes), args.seed)
    info = splits.info
    say(args, f"data: {ds.name} from {ds.source} ({ds.path}): {info['n_train']} train / {info['n_val']} val / "
              f"{info['n_test']} test images, normalize {args.normalize}", summary_text(model))
    progress = not args.json and sys.stderr.isatty()
    weights = WeightRecorder(model, every_epoch=args.record_weights)  # epoch 0 always: init vs trained for every run

    def on_epoch(row: dict, net) -> None:
        say(args, epoch_line(row, args.epochs))
        weights(row, net)

    run = fit(model, splits, progress=progress, on_epoch=on_epoch, **options)
    run.extras["weight_histograms"] = weights.record
    run.save(out)
    total = sum(r["seconds"] for r in run.history)
    say(args, f"test accuracy {pct(run.final['test_accuracy'])} after {run.train['epochs_trained']:g} epoch(s), "
              f"{total:.1f} s of training on {device.type} ({run.train['precision']})",
        f"run saved to {out}", "next:", f"  mnistlab eval {out}", f"  mnistlab predict {out} my_digit.png")
    return {"run_dir": str(out), "recipe": args.recipe or "default",
            "data": {k: info[k] for k in ("name", "source", "n_train", "n_val", "n_test")}, "model": model.config.to_dict(),
            "train": run.train, "history": run.history, "final": run.final,
            "train_seconds": total}


def cmd_eval(args: argparse.Namespace) -> dict:
    from .evaluate import evaluate_run
    from .train import load_run

    result = evaluate_run(load_run(args.run_dir, args.device), args.dataset, args.data_dir)
    say(args, f"{args.run_dir}: test loss {result['test_loss']:.4f}, accuracy {pct(result['test_accuracy'])} "
              f"on {result['n_test']} {result['dataset']} test images",
        "per-class accuracy: " + ", ".join(f"{c}: {pct(a)}" for c, a in result["per_class_accuracy"].items()),
        "confusion (rows: true, columns: predicted):",
        *(" ".join(f"{n:5d}" for n in row) for row in result["confusion"]))
    return result


def cmd_predict(args: argparse.Namespace) -> dict:
    from .data.images import load_for_model
    from .train import load_run

    run = load_run(args.run_dir, args.device)
    images = load_for_model(args.images)
    classes, probs = run.predict(images)
    predictions = [{"file": str(f), "class": run.classes[c], "probabilities": [round(float(p), 6) for p in ps]}
                   for f, c, ps in zip(args.images, classes, probs)]
    for p in predictions:
        top = sorted(range(len(p["probabilities"])), key=lambda k: -p["probabilities"][k])[:3]
        say(args, f"{p['file']}: {p['class']}  (" + ", ".join(f"{run.classes[k]}: {pct(p['probabilities'][k])}" for k in top) + ")")
    return {"predictions": predictions}


def train_options(parser: argparse.ArgumentParser) -> None:
    from .data.transforms import NORMALIZATIONS
    from .models import ACTIVATIONS, HEADS
    from .models.grammar import GRAMMAR_HELP
    from .train.augment import AUGMENTATIONS
    from .train.config import PRECISIONS
    from .train.optim import LOSSES, SCHEDULES
    from .train.recipes import RECIPES, recipe_settings

    d = recipe_settings("default")
    parser.add_argument("--recipe", choices=RECIPES,
                        help="preset of the options marked (recipe): "
                             + "; ".join(f"{k}: {r.description}" for k, r in RECIPES.items()).replace("%", "%%")
                             + " (default: default); options given explicitly override it")
    parser.add_argument("--model", help=f"(recipe) layer spec (default: '{d['model']}'); {GRAMMAR_HELP}")
    parser.add_argument("--activation", choices=ACTIVATIONS, help=f"(recipe) hidden-layer activation (default: {d['activation']})")
    parser.add_argument("--head", choices=HEADS, help=f"(recipe) output head (default: {d['head']})")
    parser.add_argument("--loss", choices=LOSSES, help="ce, nll or mse (default: ce for logits, nll otherwise)")
    parser.add_argument("--epochs", type=float, help=f"(recipe) passes over the training set; a fraction such as 0.8 "
                                                     f"ends inside the last one (default: {d['epochs']:g})")
    parser.add_argument("--batch-size", type=int, help=f"(recipe) default: {d['batch_size']}")
    parser.add_argument("--optimizer", help=f"(recipe) any torch.optim optimizer by name (default: {d['optimizer']} "
                                            f"with {d['optimizer_options'] or 'its default options'})")
    parser.add_argument("--lr", type=float, help=f"(recipe) learning rate (peak rate with onecycle; default: {d['lr']:g})")
    parser.add_argument("--schedule", choices=SCHEDULES, help=f"(recipe) learning-rate schedule (default: {d['schedule']}, "
                                                              f"with {d['schedule_options'] or 'its default options'} "
                                                              f"for the recipe's own model)")
    parser.add_argument("--weight-decay", type=float, help=f"(recipe) default: {d['weight_decay']:g}")
    parser.add_argument("--label-smoothing", type=float,
                        help=f"train on targets (1 - s) * one-hot + s / classes: less overconfident, often more "
                             f"accurate (default: the recipe's with its own model, {d['label_smoothing']:g} for "
                             f"'{d['model']}'; 0 with any other --model)")
    parser.add_argument("--normalize", choices=NORMALIZATIONS,
                        help=f"(recipe) pixel scaling: unit [0,1], standard (train mean/std), binary (>0), raw 0..255 "
                             f"(default: {d['normalize']})")
    parser.add_argument("--augment", choices=AUGMENTATIONS,
                        help=f"(recipe) train-time augmentation: affine = random rotation, scale and shift (default: {d['augment']})")
    parser.add_argument("--val", type=int, default=0, help="carve N validation images off the end of train (default: 0)")
    parser.add_argument("--train-size", type=int, help="train on the first N training images only")
    parser.add_argument("--max-steps", type=int, default=0,
                        help="stop after N optimizer steps; the schedule fits them (default: 0, no cap)")
    parser.add_argument("--eval-every", type=int, default=0,
                        help="also evaluate the test set every N steps, off the training clock (default: 0, epoch ends only)")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same device: same numbers (default: 0)")
    device_option(parser)
    parser.add_argument("--precision", choices=PRECISIONS,
                        help=f"(recipe) auto: bf16 autocast for CNNs on devices with native bf16, else fp32 (default: {d['precision']})")
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction,
                        help="(recipe) NHWC memory layout, faster convolutions on CPU and GPU "
                             f"(default: {'on' if d['channels_last'] else 'off'})")
    parser.add_argument("--record-weights", action="store_true",
                        help="record a histogram of all weights after every epoch (100 bins on [-0.8, 0.8], as in L5) "
                             "for `mnistlab inspect --what weights`")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    common = common_parser()
    parser = Parser(prog="mnistlab", description="Build, train, inspect and experiment with MNIST classifiers.")
    parser.add_argument("--version", action="version", version=f"mnistlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser, metavar="COMMAND")

    data = sub.add_parser("data", help="inspect data sets")
    data_sub = data.add_subparsers(dest="data_command", required=True, parser_class=Parser, metavar="ACTION")
    info = add_command(data_sub, "info", cmd_data_info, common, help="source, sizes, class counts, pixel range")
    data_options(info)
    from .inspect.commands import cmd_data_explore, explore_options

    explore = add_command(data_sub, "explore", cmd_data_explore, common,
                          help="random digits, a digit as a vector, class means, correlations of one digit")
    data_options(explore)
    explore_options(explore)

    train = add_command(sub, "train", cmd_train, common, help="train a model and save the run",
                        description="Train a model and save it as a run directory (model.safetensors + run.json).")
    data_options(train)
    train_options(train)
    train.add_argument("--out", help="run directory to write (default: runs/<date>-<time>)")

    ev = add_command(sub, "eval", cmd_eval, common, help="loss, accuracy, per-class accuracy and confusion of a run")
    ev.add_argument("run_dir", help="a run directory written by mnistlab train")
    ev.add_argument("--dataset", help="evaluate on another registered set (default: the run's)")
    ev.add_argument("--data-dir", help="folder holding the set's four IDX files")
    device_option(ev, "cpu")

    pr = add_command(sub, "predict", cmd_predict, common, help="classify PNG/JPEG/NPY images of any size")
    pr.add_argument("run_dir", help="a run directory written by mnistlab train")
    pr.add_argument("images", nargs="+", help="image files; brought to MNIST form (white on black, 20x20 box, centred)")
    device_option(pr, "cpu")

    for module in EXTENSIONS:
        importlib.import_module(module).register(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        payload = args.handler(args)
    except UserError as exc:
        print(f"mnistlab: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mnistlab: interrupted; nothing half-written was kept", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(payload))
    return 0


if __name__ == "__main__":
    sys.exit(main())
