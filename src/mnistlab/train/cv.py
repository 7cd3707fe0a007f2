"""Stratified k-fold cross-validation on the training set (the test set is never used).

Folds are dealt class by class in a seeded order, so every fold holds each class's images to within one,
and the folds' sizes differ by one at most. The K models train on the K complements; folds whose training
sets take the same number of steps per epoch train together as one stacked program (`fit_many`), so K folds
cost far less than K runs. Models that cannot be stacked (batch norm, dropout, augmentation) train one by one
through `fit`, with the same folds.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..data.dataset import Dataset
from ..data.splits import Splits, make_splits
from ..display import heading, table
from ..errors import UserError, named
from ..fileio import check_output, write_json
from ..models import Net, build_model
from .choices import check_folds
from .config import TrainConfig
from .device import entry_point
from .engine import StepPlan
from .loop import fit
from .many import Folds, fit_many, stack_refusal
from .recipes import get_recipe, settle
from .run import Run

CV_RECORD = "cv.json"


def stratified_folds(labels, k: int, seed: int = 0) -> list[np.ndarray]:
    """The validation indices of `k` stratified folds of `labels` (each sorted; together every index once)."""
    labels = np.asarray(labels)
    rng, assigned, dealt = np.random.default_rng(seed), np.empty(len(labels), dtype=np.int64), 0
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        assigned[members] = (dealt + np.arange(len(members))) % k  # continue the deal where the last class ended
        dealt += len(members)
    return [np.flatnonzero(assigned == i) for i in range(k)]


@dataclass
class CrossValidation:
    """The K fold runs (fold i validated on `folds[i]`), how they trained, and where they were saved."""

    runs: list[Run]
    folds: list[np.ndarray]
    seed: int
    batched: list[list[int]]  # the folds that trained together, as groups of 1-based fold numbers
    note: str = ""  # why the folds trained one by one, when they did
    out: Path | None = field(default=None)

    @property
    def val_accuracies(self) -> list[float]:
        return [r.final["val_accuracy"] for r in self.runs]

    def to_dict(self) -> dict:
        acc = self.val_accuracies
        return {"folds": [{"fold": i + 1, "val_accuracy": a, "n_val": int(len(f)),
                           "run_dir": None if r.run_dir is None else str(r.run_dir)}
                          for i, (a, f, r) in enumerate(zip(acc, self.folds, self.runs))],
                "mean_val_accuracy": float(np.mean(acc)), "std_val_accuracy": float(np.std(acc)),
                "seed": self.seed, "trained_together": self.batched, **({"note": self.note} if self.note else {})}

    def __repr__(self) -> str:
        acc = self.val_accuracies
        return f"CrossValidation({len(self.runs)} folds, val_accuracy {100 * np.mean(acc):.2f}% ± {100 * np.std(acc):.2f})"

    def _repr_html_(self) -> str:
        """Jupyter: one row per fold, then the mean and spread of the validation accuracy."""
        d = self.to_dict()
        rows = [{k: v for k, v in f.items() if v is not None} for f in d["folds"]]
        return (heading(f"{len(self.runs)}-fold stratified cross-validation: validation accuracy "
                        f"{100 * d['mean_val_accuracy']:.2f}% ± {100 * d['std_val_accuracy']:.2f}") + table(rows))

    def save(self, out: str | Path) -> Path:
        """Each fold's run in out/fold-<i>, then out/cv.json (each written whole: temp and rename)."""
        out = check_out(out)
        for i, run in enumerate(self.runs):
            run.save(out / f"fold-{i + 1}")
        write_json(out / CV_RECORD, self.to_dict())
        self.out = out
        return out


def check_out(out: str | Path) -> Path:
    """A cross-validation folder must be new or empty (it will hold fold-<i> runs and cv.json)."""
    out = check_output(out)
    if out.exists() and any(out.iterdir()):
        raise UserError(f"{named('out', out)}: is not empty; cross-validation writes fold-<i> runs and cv.json into a new "
                        f"or empty folder")
    return out


@entry_point
def cross_validate(model: Net | str, data: Splits | Dataset, folds: int = 5, *, recipe: str = "default",
                   batched: bool = True, on_epoch=None, **options) -> CrossValidation:
    """Train `model` (a Net, copied per fold, or a spec) on `folds` stratified folds of `data`'s training set.

    `options` are TrainConfig fields over `recipe`, as for `fit`. With `batched`, folds train together through
    `fit_many` where the model allows; each run's history has validation figures and no test figures.
    """
    if isinstance(data, Dataset):
        data = make_splits(data, get_recipe(recipe).normalize)
    check_folds(folds, len(data.y_train))
    spec = model if isinstance(model, str) else model.config.spec
    cfg = TrainConfig(**settle(recipe, spec, options))
    cfg.check()
    nets = [build_model(model, n_classes=len(data.classes), input_shape=tuple(data.x_train.shape[1:]), seed=cfg.seed)
            if isinstance(model, str) else copy.deepcopy(model) for _ in range(folds)]
    val = stratified_folds(data.y_train.cpu().numpy(), folds, cfg.seed)
    train = [np.setdiff1d(np.arange(len(data.y_train)), v) for v in val]
    note = "" if batched else "batched=False"
    if batched:
        note = stack_refusal(nets, cfg) or ""
    runs: list[Run | None] = [None] * folds
    groups = _groups(train, cfg) if not note else [[i] for i in range(folds)]
    for group in groups:
        if note:
            runs[group[0]] = _alone(nets[group[0]], data, train[group[0]], val[group[0]], recipe, options)
            continue
        as_tensor = lambda idx: torch.as_tensor(idx, device=data.y_train.device)  # noqa: E731
        trained = fit_many([nets[i] for i in group], data, None, cfg, on_epoch=on_epoch,
                           folds=Folds([as_tensor(train[i]) for i in group], [as_tensor(val[i]) for i in group]))
        for i, run in zip(group, trained):
            runs[i] = run
    for i, run in enumerate(runs):
        run.data["cv"] = {"fold": i + 1, "folds": folds, "seed": cfg.seed}
    together = [[i + 1 for i in g] for g in groups if len(g) > 1] if not note else []
    return CrossValidation(runs, val, cfg.seed, together, note)


def _groups(train: list[np.ndarray], cfg: TrainConfig) -> list[list[int]]:
    """Folds whose training sets take the same number of steps per epoch: each group trains as one program."""
    groups: dict[int, list[int]] = {}
    for i, idx in enumerate(train):
        groups.setdefault(StepPlan.of(len(idx), cfg.batch_size, cfg.epochs, cfg.drop_last).steps_per_epoch, []).append(i)
    return list(groups.values())


def _alone(model: Net, data: Splits, train: np.ndarray, val: np.ndarray, recipe: str, options: dict) -> Run:
    """One fold trained by `fit` on its own splits; its test figures are dropped (cross-validation reports none)."""
    t, v = (torch.as_tensor(i, device=data.y_train.device) for i in (train, val))
    part = Splits(data.x_train[t], data.y_train[t], data.x_test, data.y_test, data.normalizer, data.x_train[v],
                  data.y_train[v], {**data.info, "n_train": len(train), "n_val": len(val)}, data.classes)
    run = fit(model, part, recipe=recipe, **options)
    for row in run.history:
        row["test_loss"] = row["test_accuracy"] = None
    return run
