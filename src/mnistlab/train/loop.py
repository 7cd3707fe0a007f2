"""`fit`: train one model, top to bottom. The steps themselves run in the engine (engine.py)."""
from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict

import torch

from ..data.dataset import Dataset
from ..data.splits import Splits, make_splits
from ..errors import UserError
from ..models import Net, build_model
from ..progress import Progress
from .augment import make_augment
from .config import TrainConfig
from .device import Stopwatch, autocast_for, call_threads, managed, resolve_device, resolve_precision
from .divergence import stop_if_not_finite
from .engine import BatchSource, Engine, StepPlan, StepSpec, schedule_table, train
from .init import start_from
from .metrics import calibrate
from .optim import check_loss, default_loss, make_loss, make_optimizer
from .recipes import get_recipe, held_aside, prepare, settle
from .run import Run


def fit(model: Net | str, data: Splits | Dataset, *, recipe: str = "default", progress: bool | Progress | None = None,
        threads: int | str | None = None, on_epoch: Callable[[dict, Net], None] | None = None, **options) -> Run:
    """Train `model` (a Net or a spec string) on `data`; options are the fields of TrainConfig.

    `progress`: a status line on stderr (True; the default from a script or notebook, as the command line shows
    it), on a caller's `Progress`, or none (False). `threads`: torch's CPU threads for the call, a count or `auto`
    (the default from a script or notebook: the cores nothing else is busy on, as `--threads auto`), the caller's
    count back afterwards; inside a command both are the command's. Options not given come from `recipe` as
    `recipes.settle` lays them out, so `fit(build_model(spec), dataset)` trains what `mnistlab train --model spec`
    does (a data set is cut as the recipe cuts it; Splits are used as given). Returns a Run whose history has one row
    per epoch, and its temperature fitted on the validation split if there is one. Torch's global random state is
    left as it was found: dropout and augmentation draw from generators seeded with `seed`.
    """
    shown = not managed() if progress is None else progress
    with call_threads(threads):
        return _fit(model, data, recipe, shown, on_epoch, options)


def _fit(model: Net | str, data: Splits | Dataset, recipe: str, progress: bool | Progress,
         on_epoch: Callable[[dict, Net], None] | None, options: dict) -> Run:
    model, data, cfg = _settled(model, data, recipe, options)
    device = resolve_device(cfg.device)
    data = data.to(device)
    memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
    model.to(device=device, memory_format=memory_format)
    loss_name = cfg.loss or default_loss(model.config.head)
    check_loss(loss_name, model.config.head, cfg.label_smoothing)
    train_loss, test_loss = make_loss(loss_name, model.config.n_classes, cfg.label_smoothing), make_loss(loss_name, model.config.n_classes)
    precision = resolve_precision(cfg.precision, device, model.is_cnn)
    plan = StepPlan.of(len(data.y_train), cfg.batch_size, cfg.epochs, cfg.drop_last, cfg.max_steps)
    clock, evals = Stopwatch(device), []

    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(cfg.seed)
        decay = {"weight_decay": cfg.weight_decay} if cfg.weight_decay else {}
        optimizer = make_optimizer(cfg.optimizer, model.parameters(), cfg.lr, lean=True, **decay, **cfg.optimizer_options)
        source = BatchSource(data.x_train.contiguous(memory_format=memory_format), data.y_train, plan, cfg.seed)
        spec = StepSpec(loss=lambda out, y: train_loss(out.float(), y), amp=autocast_for(device, precision),
                        augment=make_augment(cfg.augment, data.normalizer, device, cfg.seed, plan.total),
                        table=schedule_table(cfg.schedule, optimizer, cfg.lr, plan, cfg.schedule_options), capture=cfg.capture,
                        identity=("fit", loss_name, cfg.label_smoothing, precision, cfg.augment, repr(data.normalizer)))
        engine = Engine(model, [model], [optimizer], source, spec)
        tests = engine.evaluator(model, test_loss, data.x_test, data.y_test)
        vals = engine.evaluator(model, test_loss, data.x_val, data.y_val) if data.x_val is not None else None

        evaluate = _evaluation(tests, vals, clock, evals)
        history: list[dict] = []

        def record(raw: dict) -> None:
            stop_if_not_finite(raw["train_loss"], raw["epoch"], cfg.lr)
            history.append({"epoch": raw["epoch"], "train_loss": raw["train_loss"], "train_accuracy": raw["train_accuracy"],
                            **raw["evals"], "seconds": raw["seconds"], "eval_seconds": raw["eval_seconds"]})
            if on_epoch is not None:
                on_epoch(history[-1], model)

        status = progress if isinstance(progress, Progress) else Progress(True, sys.stderr) if progress else None
        try:
            train(engine, evaluate, clock, eval_every=cfg.eval_every, progress=status, on_epoch=record)
        finally:
            if status is not None and status is not progress:
                status.close()

    train_record = {**asdict(cfg), "loss": loss_name, "device": device.type, "precision": precision,
                    "epochs_trained": plan.epochs_trained, "capture": str(engine.capture), "threads": torch.get_num_threads(),
                    "capture_s": round(engine.capture_s, 4)}
    extras = {"evals": evals} if cfg.eval_every else {}
    return Run(model.eval(), data.normalizer, train_record, dict(data.info), history, tuple(data.classes), extras=extras,
               calibration=calibrate(model, data.x_val, data.y_val, spec.amp))


def _settled(model: Net | str, data: Splits | Dataset, recipe: str, options: dict) -> tuple[Net, Splits, TrainConfig]:
    """The model built, the data split and the options settled by the recipe and checked."""
    if isinstance(data, Dataset):
        data = make_splits(data, val=held_aside(get_recipe(recipe), len(data.train_labels)))  # as `mnistlab train` cuts it
    if isinstance(model, str):
        model = build_model(model, n_classes=len(data.classes), seed=options.get("seed", 0))
    try:
        cfg = TrainConfig(**settle(recipe, model.config.spec, options))
    except TypeError as exc:  # an option TrainConfig does not have
        raise UserError(f"fit: {exc}; the options are the fields of mnistlab.train.TrainConfig") from None
    cfg.check()
    if model.config.n_classes != len(data.classes):
        raise UserError(f"the model has {model.config.n_classes} outputs but the data has {len(data.classes)} classes")
    if cfg.init:  # fine-tuning: the run's weights, and its normalization for the data
        data = start_from(model, data, cfg.init)
    return model, data, cfg


def _evaluation(tests, vals, clock: Stopwatch, evals: list[dict]) -> Callable[[float, int, bool], dict]:
    """The engine's evaluate(epoch, step, epoch_end): test (and at epoch ends validation) loss and accuracy,
    each test evaluation also kept in `evals` with the training clock's reading."""
    def evaluate(epoch: float, step: int, epoch_end: bool) -> dict:
        row = {"val_loss": None, "val_accuracy": None}
        if epoch_end and vals is not None:
            row["val_loss"], row["val_accuracy"] = map(float, vals())
        row["test_loss"], row["test_accuracy"] = map(float, tests())
        evals.append({"step": step, "epoch": epoch, "seconds": clock.total, "test_loss": row["test_loss"],
                      "test_accuracy": row["test_accuracy"]})
        return row

    return evaluate


def train_recipe(name: str, data: Dataset, *, seed: int = 0, device: str = "auto", progress: bool | Progress | None = None,
                 **overrides) -> Run:
    """Prepare `data`, build and train the recipe's model; `overrides` replace TrainConfig fields (another
    optimizer or schedule drops the recipe's options for its own, as `settle` says)."""
    splits, model = prepare(name, data, seed=seed, device=device)
    return fit(model, splits, recipe=name, progress=progress, seed=seed, device=device, **overrides)
