"""`mnistlab train`: train a run (or K of them with --folds) and save it.

`cmd_train` is a skin over `mnistlab.train.job.train_to_dir`, which a notebook can call with the same options; the
command adds the TensorBoard log (`--tensorboard`) as one of its watchers.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import fields

from ..data.transforms import NORMALIZATIONS
from ..errors import UserError
from ..fileio import check_output, reserve
from ..models.grammar import GRAMMAR_HELP
from ..models.layers import ACTIVATION_CLASSES, HEADS
from ..progress import Progress
from ..tables import pct
from ..train.choices import check_folds
from ..train.config import TrainConfig
from ..train.recipes import HELD_ASIDE, MIN_HELD_ASIDE, RECIPES, Choices, get_recipe, prepare, recipe_settings
from .common import add_command, data_named, data_options, load_data, read_options, say


def cmd_train(args: argparse.Namespace) -> dict:
    # torch loads when the command runs, not when the parser is built
    from ..tensorboard import summary_writer, tensorboard_log
    from ..train.job import TrainJob, train_to_dir
    from ..train.run import load_run

    recipe = args.recipe or "default"
    if args.init:  # the run's own model unless another is asked for (train/init.py names what differs)
        own = load_run(args.init).model.config
        args.model, args.activation, args.head = args.model or own.spec, args.activation or own.activation, args.head or own.head
    given = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if getattr(args, f.name) is not None}
    job = TrainJob(recipe, Choices(args.model, args.activation, args.head, args.normalize, args.val, args.train_size),
                   given, args.dataset, args.data_dir, read_options(args), args.out, args.record_weights)
    job.config()  # refuse bad options and layer tokens before anything else
    if args.folds is not None:
        return cmd_cross_validate(args, recipe, given)
    watch = []
    if args.tensorboard:
        check_output(args.tensorboard, "--tensorboard")
        summary_writer()  # a missing extra is said before the data load, not after it
        watch.append(lambda model, splits, ds: tensorboard_log(args.tensorboard, model, splits, ds))
    return train_to_dir(job, lambda line: say(args, line), Progress.for_command(args), watch)


def cmd_cross_validate(args: argparse.Namespace, recipe: str, given: dict) -> dict:
    """`train --folds K`: stratified K-fold cross-validation on the training set; the K runs and cv.json."""
    # torch: as in cmd_train
    from ..train.cv import check_out, cross_validate
    from ..train.run import default_run_dir

    check_folds(args.folds)
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
    splits, model = prepare(recipe, ds, Choices(args.model, args.activation, args.head, args.normalize, val=0,
                                                train_size=args.train_size), seed, given.get("device", "auto"))
    say(args, f"model '{model.config.spec}', {splits.info['n_train']} {ds.name} training images in {args.folds} folds")
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


def first(args: argparse.Namespace) -> str:
    """What `train` is about to do, from the options alone (main() says it before torch loads)."""
    recipe, data = args.recipe or "default", data_named(args)
    if args.folds is not None:
        check_folds(args.folds)  # a count that is no cross-validation is refused before it is announced
        return (f"{args.folds}-fold stratified cross-validation of the '{recipe}' recipe on {data}'s training images "
                f"(the test set is not used): {args.folds} models, about {args.folds - 1}x the work of one training")
    return (f"training the '{recipe}' recipe" + (f" with model '{args.model}'" if args.model else "") + f" on {data}"
            + (f", starting from {args.init}" if args.init else "") + (f", into {args.out}" if args.out else ""))


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
    d, recipe = recipe_settings("default"), get_recipe("default")
    parser.add_argument("--recipe", choices=RECIPES,
                        help=("preset for every option below it: " + "; ".join(f"{k}: {r.description}" for k, r in RECIPES.items())
                              + " (default: default); options given explicitly override it").replace("%", "%%"))
    parser.add_argument("--model", help=f"layer spec (default: the recipe's, '{recipe.model}'); {GRAMMAR_HELP}")
    parser.add_argument("--activation", choices=ACTIVATION_CLASSES, help=f"hidden-layer activation (default: {recipe.activation})")
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
        said = f.metadata["help"] if "(default:" in f.metadata["help"] else f"{f.metadata['help']} (default: {shown or 'none'})"
        parser.add_argument("--" + f.name.replace("_", "-"), default=None, help=said.replace("%", "%%"), **options)
    parser.add_argument("--folds", type=int, metavar="K",
                        help="stratified K-fold cross-validation on the training set instead of one run: K runs "
                             "and cv.json in --out, the mean and std of the folds' validation accuracy")
    parser.add_argument("--val", type=int, help="carve N validation images off the end of train; the run's temperature (which "
                                                "calibrates its probabilities) is fitted on them after training (default: the "
                                                f"recipe's: {HELD_ASIDE:.1%} of the training images for default and robust, "
                                                f"none for the others or where that is under {MIN_HELD_ASIDE})".replace("%", "%%"))
    parser.add_argument("--train-size", type=int, help="train on the first N training images only")
    parser.add_argument("--record-weights", action="store_true",
                        help="record a histogram of all weights after every epoch (100 bins on [-0.8, 0.8], as in L5) "
                             "for `mnistlab inspect --what weights`")


def register(subparsers, common) -> None:
    sub = subparsers
    train = add_command(sub, "train", cmd_train, common, first=first, help="train a model and save the run",
                        description="Train a model and save it as a run directory (model.safetensors + run.json).")
    data_options(train)
    train_options(train)
    train.add_argument("--out", help="run directory to write (default: runs/<date>-<time>)")
    train.add_argument("--tensorboard", metavar="DIR", help="also write TensorBoard event files to DIR (scalars, weight "
                                                            "histograms, sample predictions, the graph); needs mnistlab[tensorboard]")
