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
import time

from .clitools import (
    Parser,
    add_command,
    common_parser,
    data_options,
    device_option,
    load_data,
    notices_to_stderr,
    pct,
    read_options,
    report_predictions,
    say,
    verify_option,
)
from .errors import UserError, os_error_line
from .fileio import COMMITTED, check_output, check_space, release_all

# Feature areas that add their own sub-commands: each module has register(subparsers, common).
EXTENSIONS: tuple[str, ...] = ("mnistlab.data.cli", "mnistlab.scratch.cli", "mnistlab.inspect.cli", "mnistlab.report.cli",
                               "mnistlab.serve.cli", "mnistlab.bench", "mnistlab.experiments.cli", "mnistlab.sweep.cli",
                               "mnistlab.export.cli", "mnistlab.robustness.cli", "mnistlab.notebooks.cli")


def epoch_line(row: dict, epochs: float) -> str:
    epochs = math.ceil(epochs)  # the last epoch of a fractional count is a short one
    val = f"  val {row['val_loss']:.4f} / {pct(row['val_accuracy'])}" if row["val_loss"] is not None else ""
    return (f"epoch {row['epoch']:>{len(str(epochs))}}/{epochs}  train loss {row['train_loss']:.4f} acc {pct(row['train_accuracy'])}"
            f"{val}  test loss {row['test_loss']:.4f} acc {pct(row['test_accuracy'])}  ({row['seconds']:.1f}s)")


def train_settings(args: argparse.Namespace) -> tuple[str, dict, object]:
    """The recipe, the TrainConfig fields given on the command line, and the settled, checked TrainConfig:
    bad options and layer tokens are refused before anything is loaded."""
    from dataclasses import fields

    from .train import TrainConfig
    from .train.recipes import get_recipe, settle

    recipe = args.recipe or "default"
    if args.init:  # the run's own model unless another is asked for (train/init.py names what differs)
        from .train.run import load_run

        own = load_run(args.init).model.config
        args.model, args.activation, args.head = args.model or own.spec, args.activation or own.activation, args.head or own.head
    given = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if getattr(args, f.name) is not None}
    cfg = TrainConfig(**settle(recipe, args.model or get_recipe(recipe).model, given))
    cfg.check()
    return recipe, given, cfg


def cmd_train(args: argparse.Namespace) -> dict:
    from .inspect.histograms import WeightRecorder
    from .models import summary_text
    from .progress import Progress
    from .tensorboard import tensorboard_log
    from .train import fit, resolve_device
    from .train.recipes import prepare
    from .train.run import default_run_dir, reserve_out_dir, run_bytes

    recipe, given, cfg = train_settings(args)
    if args.folds is not None:
        return cmd_cross_validate(args, recipe, given)
    for name in ("val", "train_size"):
        value = getattr(args, name)
        if value is not None and value < (0 if name == "val" else 1):
            raise UserError(f"--{name.replace('_', '-')} {value}: must be at least {0 if name == 'val' else 1}")
    if args.tensorboard:
        check_output(args.tensorboard, "--tensorboard")
    out = reserve_out_dir(args.out or default_run_dir())  # refused before training, held until the command ends
    device = resolve_device(cfg.device)
    started = time.perf_counter()
    ds = load_data(args)
    splits, model = prepare(recipe, ds, model=args.model, activation=args.activation, head=args.head,
                            normalize=args.normalize, val=args.val, train_size=args.train_size, seed=cfg.seed,
                            device=cfg.device)
    info = splits.info
    check_space(out, run_bytes(model))  # a full disk is found before training, not after
    say(args, f"data: {ds.name} from {ds.source} ({ds.path}): {info['n_train']} train / {info['n_val']} val / "
              f"{info['n_test']} test images, normalize {splits.normalizer.mode}", summary_text(model))
    progress = Progress.for_command(args)
    weights = WeightRecorder(model, every_epoch=args.record_weights)  # epoch 0 always: init vs trained for every run
    board = tensorboard_log(args.tensorboard, model, splits, ds)  # None without --tensorboard

    def on_epoch(row: dict, net) -> None:
        progress.printer(lambda line: say(args, line))(epoch_line(row, cfg.epochs))
        weights(row, net)
        if board:
            board(row, net)

    prepared = time.perf_counter()
    run = None
    try:
        run = fit(model, splits, recipe=recipe, progress=progress, on_epoch=on_epoch, **given)
    finally:
        progress.close()
        if board:
            board.close(run)  # event files are logs: what was written before a failure stays readable
    trained = time.perf_counter()
    run.extras["weight_histograms"] = weights.record
    run.save(out)
    warn_diverged(run, out)
    timing = {"data_s": round(prepared - started, 3), "fit_s": round(trained - prepared, 3),
              "save_s": round(time.perf_counter() - trained, 3)}  # fit_s: warm-up, capture, training and evaluation
    total = sum(r["seconds"] for r in run.history)
    graphs = f", CUDA graphs {run.train['capture']}" if device.type == "cuda" else ""
    say(args, f"test accuracy {pct(run.final['test_accuracy'])} after {run.train['epochs_trained']:g} epoch(s), "
              f"{total:.1f} s of training on {device.type} ({run.train['precision']}{graphs})",
        f"run saved to {out}", "next:", f"  mnistlab eval {out}", f"  mnistlab predict {out} my_digit.png")
    return {"run_dir": str(out), "recipe": recipe,
            "data": {k: info[k] for k in ("name", "source", "n_train", "n_val", "n_test")}, "model": model.config.to_dict(),
            "train": run.train, "history": run.history, "final": run.final, "diverged": run.diverged is not None,
            "train_seconds": total, "timing": timing}


def warn_diverged(run, where) -> None:
    """A diverged run is kept, with a warning wherever its numbers are shown (`train`, `eval`)."""
    import warnings

    from .train.divergence import divergence_warning

    if run.diverged:
        warnings.warn(divergence_warning(str(where), run.diverged), stacklevel=2)


def cmd_cross_validate(args: argparse.Namespace, recipe: str, given: dict) -> dict:
    """`train --folds K`: stratified K-fold cross-validation on the training set; the K runs and cv.json."""
    from .fileio import reserve
    from .progress import Progress
    from .train.cv import check_out, cross_validate
    from .train.recipes import prepare
    from .train.run import default_run_dir

    if args.folds < 2:
        raise UserError(f"--folds {args.folds}: cross-validation needs at least 2 folds (e.g. --folds 5)")
    for name in ("val", "tensorboard", "record_weights"):
        if getattr(args, name):
            raise UserError(f"--{name.replace('_', '-')} cannot go with --folds: the folds are the validation sets, "
                            f"and each fold is a run of its own; leave it out")
    if args.train_size is not None and args.train_size < 1:
        raise UserError(f"--train-size {args.train_size}: must be at least 1")
    out = check_out(args.out or default_run_dir())
    reserve(out)
    ds = load_data(args)
    seed = given.get("seed", 0)
    splits, model = prepare(recipe, ds, model=args.model, activation=args.activation, head=args.head,
                            normalize=args.normalize, train_size=args.train_size, seed=seed,
                            device=given.get("device", "auto"))
    say(args, f"{args.folds}-fold stratified cross-validation of '{model.config.spec}' on {splits.info['n_train']} "
              f"{ds.name} training images (the test set is not used)")
    progress = Progress.for_command(args)
    progress.begin(f"{args.folds} folds")
    try:
        cv = cross_validate(model, splits, args.folds, recipe=recipe,
                            on_epoch=lambda e, n: progress.show(f"epoch {e}/{n}", e / n), **given)
    finally:
        progress.close()
    cv.save(out)
    result = cv.to_dict()
    together = ", ".join("+".join(map(str, g)) for g in result["trained_together"]) or "none"
    say(args, *(f"fold {f['fold']}/{args.folds}: val accuracy {pct(f['val_accuracy'])} on {f['n_val']} images  "
                f"({f['run_dir']})" for f in result["folds"]),
        f"mean val accuracy {pct(result['mean_val_accuracy'])} ± {pct(result['std_val_accuracy'])} (std over folds); "
        f"folds trained together: {together}" + (f" ({cv.note})" if cv.note else ""),
        f"saved to {out} (fold-1..fold-{args.folds}, cv.json)")
    return result


def cmd_eval(args: argparse.Namespace) -> dict:
    from .evaluate import evaluate_run
    from .train import load_run

    run = load_run(args.run_dir, args.device, verify=args.verify)
    result = {**evaluate_run(run, args.dataset, args.data_dir, read_options(args)), "diverged": run.diverged is not None}
    warn_diverged(run, args.run_dir)
    say(args, f"{args.run_dir}: test loss {result['test_loss']:.4f}, accuracy {pct(result['test_accuracy'])} "
              f"on {result['n_test']} {result['dataset']} test images",
        "per-class accuracy: " + ", ".join(f"{c}: {pct(a)}" for c, a in result["per_class_accuracy"].items()),
        "confusion (rows: true, columns: predicted):",
        *(" ".join(f"{n:5d}" for n in row) for row in result["confusion"]))
    return result


def cmd_predict(args: argparse.Namespace) -> dict:
    if args.onnx:  # reached only through the full parser (main dispatches --onnx before building it)
        from .export.onnxrun import cmd_predict_onnx

        return cmd_predict_onnx(args)
    from .data.rgb import images_for
    from .train import load_run

    run = load_run(args.run_dir, args.device, verify=args.verify)
    _, probs = run.predict(images_for(args.images, run.model.config.input_shape, run.classes))
    return report_predictions(args, args.images, run.classes, probs)


def json_object(text: str) -> dict:
    """An option value given as a JSON object, e.g. '{"momentum": 0.9}'."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON ({exc}); write an object such as '{{\"momentum\": 0.9}}'") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"{text!r} is not a JSON object; write one such as '{{\"momentum\": 0.9}}'")
    return value


def train_options(parser: argparse.ArgumentParser) -> None:
    """The recipe and model choices, then one option per TrainConfig field. Every default is None (not given):
    the recipe fills what is left out (`recipes.settle`), and the help shows the default recipe's value."""
    from dataclasses import fields

    from .data.transforms import NORMALIZATIONS
    from .models import ACTIVATIONS, HEADS
    from .models.grammar import GRAMMAR_HELP
    from .train.config import TrainConfig
    from .train.recipes import RECIPES, get_recipe, recipe_settings

    d, recipe = recipe_settings("default"), get_recipe("default")
    parser.add_argument("--recipe", choices=RECIPES,
                        help=("preset for every option below it: " + "; ".join(f"{k}: {r.description}" for k, r in RECIPES.items())
                              + " (default: default); options given explicitly override it").replace("%", "%%"))
    parser.add_argument("--model", help=f"layer spec (default: the recipe's, '{recipe.model}'); {GRAMMAR_HELP}")
    parser.add_argument("--activation", choices=ACTIVATIONS, help=f"hidden-layer activation (default: {recipe.activation})")
    parser.add_argument("--head", choices=HEADS, help=f"output head (default: {recipe.head})")
    parser.add_argument("--normalize", choices=NORMALIZATIONS,
                        help=f"pixel scaling: unit [0,1], standard (train mean/std), binary (>0), raw 0..255 (default: {recipe.normalize})")
    for f in fields(TrainConfig):
        default, value = d[f.name], getattr(TrainConfig(), f.name)
        kind = str if value is None else type(value)
        options = {"choices": f.metadata["choices"]} if "choices" in f.metadata else {}
        if kind is bool:
            options["action"] = argparse.BooleanOptionalAction
        else:
            options["type"] = json_object if kind is dict else kind
        shown = json.dumps(default) if isinstance(default, dict) else "on" if default is True else "off" if default is False else default
        parser.add_argument("--" + f.name.replace("_", "-"), default=None,
                            help=f"{f.metadata['help']} (default: {shown})".replace("%", "%%"), **options)
    parser.add_argument("--folds", type=int, metavar="K",
                        help="stratified K-fold cross-validation on the training set instead of one run: K runs "
                             "and cv.json in --out, the mean and std of the folds' validation accuracy")
    parser.add_argument("--val", type=int, default=0, help="carve N validation images off the end of train (default: 0)")
    parser.add_argument("--train-size", type=int, help="train on the first N training images only")
    parser.add_argument("--record-weights", action="store_true",
                        help="record a histogram of all weights after every epoch (100 bins on [-0.8, 0.8], as in L5) "
                             "for `mnistlab inspect --what weights`")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    common = common_parser()
    parser = Parser(prog="mnistlab", description="Build, train, inspect and experiment with MNIST classifiers.")
    parser.add_argument("--version", action="version", version=f"mnistlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser, metavar="COMMAND")

    train = add_command(sub, "train", cmd_train, common, help="train a model and save the run",
                        description="Train a model and save it as a run directory (model.safetensors + run.json).")
    data_options(train)
    train_options(train)
    train.add_argument("--out", help="run directory to write (default: runs/<date>-<time>)")
    train.add_argument("--tensorboard", metavar="DIR", help="also write TensorBoard event files to DIR (scalars, weight "
                                                            "histograms, sample predictions, the graph); needs mnistlab[tensorboard]")

    ev = add_command(sub, "eval", cmd_eval, common, help="loss, accuracy, per-class accuracy and confusion of a run")
    ev.add_argument("run_dir", help="a run directory written by mnistlab train")
    ev.add_argument("--dataset", help="evaluate on another registered set (default: the run's)")
    data_options(ev, dataset=False)
    device_option(ev, "cpu")
    verify_option(ev)

    pr = add_command(sub, "predict", cmd_predict, common, help="classify PNG/JPEG/NPY images of any size",
                     usage="mnistlab predict [-h] [--json] [--device DEVICE] (RUN_DIR | --onnx FILE) IMAGE [IMAGE ...]")
    pr.add_argument("run_dir", help="a run directory written by mnistlab train (leave out with --onnx)")
    pr.add_argument("--onnx", metavar="FILE", help="classify with a file from `mnistlab export --format onnx` instead "
                                                   "of a run: needs only onnxruntime, not torch")
    pr.add_argument("images", nargs="+", help="image files; for a 28x28 gray digit run brought to MNIST form (white on "
                                              "black, 20x20 box, centred), for any other run resized to its input")
    device_option(pr, "cpu")
    verify_option(pr)

    for module in EXTENSIONS:
        importlib.import_module(module).register(sub, common)
    return parser


def interrupted_message(saved_before: int) -> str:
    """What an interrupt left behind: the outputs this command completed, or nothing."""
    saved = COMMITTED[saved_before:]
    if not saved:
        return "interrupted; nothing was saved and nothing half-written was kept"
    more = f" and {len(saved) - 1} other file(s)" if len(saved) > 1 else ""
    return f"interrupted after {saved[-1]}{more} had been saved complete; nothing half-written was kept"


def main(argv: list[str] | None = None) -> int:
    from .export.onnxrun import onnx_predict_parser, wants_onnx_predict

    argv = sys.argv[1:] if argv is None else list(argv)
    parser = onnx_predict_parser() if wants_onnx_predict(argv) else build_parser()
    args = parser.parse_args(argv)
    import warnings

    saved_before = len(COMMITTED)
    try:
        if hasattr(args, "threads"):  # predict --onnx has none: it never loads torch
            from .train.device import set_threads

            set_threads(args.threads)
        # torch's and PIL's warnings wait (never extra lines on a refusal); the library's logged notices print as they come
        with warnings.catch_warnings(record=True) as caught, notices_to_stderr():
            warnings.simplefilter("default")
            payload = args.handler(args)
    except UserError as exc:
        print(f"mnistlab: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mnistlab: {interrupted_message(saved_before)}", file=sys.stderr)
        return 130
    except OSError as exc:
        line = os_error_line(exc)
        if line is None:
            raise
        print(f"mnistlab: error: {line}", file=sys.stderr)
        return 2
    finally:
        release_all()  # output places the command reserved
    for note in dict.fromkeys(str(w.message).splitlines()[0] for w in caught if str(w.message)):
        print(f"mnistlab: warning: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps(payload))
    return 0


if __name__ == "__main__":
    sys.exit(main())
