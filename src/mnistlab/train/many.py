"""Train many models at once: K models stepped as one stacked program through the training engine.

A sweep of small networks, an experiment's grid or the folds of a cross-validation is bound on a CPU by
per-step overhead, and on a GPU by kernel launches. Stacking turns K models into one set of tensors
(train/stack.py: a (K, in, out) leaf per layer, widths padded to the widest, convolutions grouped) and one
optimizer (train/stackopt.py: per-model learning rates on the device), so a step is the same handful of
operations whatever K is. Batch order, initial weights, loss and optimizer formulas are those `fit` uses, so
each model follows the trajectory `fit` would give it (the tests compare them step for step).

Models may share one training set, or each draw its batches from its own subset of it (`Folds`: what
cross-validation needs); the data stays resident once either way.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import torch
from torch.nn import functional as F

from ..data.splits import Splits
from ..errors import UserError, named
from ..models import Net
from .config import PLAIN, TrainConfig
from .device import Stopwatch, autocast_for, entry_point, resolve_device, resolve_precision
from .engine import CHUNK, BatchSource, Engine, Evaluator, StepPlan, StepSpec, chunked, schedule_table, train
from .metrics import calibrate
from .optim import check_loss, default_loss, make_optimizer
from .run import Run
from .stack import Stack, check_stackable, weight_layers
from .stackopt import StackedOptimizer, family_defaults

IGNORE = -100  # the label of a padding row: no loss, never correct
# fit_many without a config trains plainly, as the lectures do: a constant rate, torch's optimizer defaults,
# the plain loss (not the default recipe's schedule and label smoothing).
@dataclass
class Folds:
    """Per-model index subsets of one resident training set: model k trains on x_train[train[k]], is validated
    on x_train[val[k]] when `val` is given, and on the test set only if `test`."""

    train: list[torch.Tensor]
    val: list[torch.Tensor] | None = None
    test: bool = False


def sample_losses(name: str, smoothing: float = 0.0) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """(K, B) per-sample losses of outputs (K, B, C) against labels (B,) or (K, B); IGNORE labels give 0.
    The same losses as `optim.make_loss`, sample by sample."""
    def losses(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        k, b, c = out.shape
        flat, target = out.float().reshape(k * b, c), y.expand(k, b).reshape(k * b)
        if name == "ce":
            return F.cross_entropy(flat, target, reduction="none", label_smoothing=smoothing).view(k, b)
        loss = F.nll_loss(flat, target, reduction="none")
        if smoothing:
            loss = (1 - smoothing) * loss - smoothing * flat.mean(1) * (target != IGNORE)
        return loss.view(k, b)
    if name not in ("ce", "nll"):
        raise UserError(f"{named('loss', name)}: stacked training takes ce or nll")
    return losses


class SubsetSource(BatchSource):
    """Model k's batches drawn from its own subset of the resident set, in the order `fit` would draw them
    from that subset alone (its own generator, seeded alike). Batch rows hold (B, K) indices; a model whose
    subset is smaller gets padding rows (image 0, label IGNORE) in the last, eager batch of an epoch."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, subsets: list[torch.Tensor], plan: StepPlan, seed: int):
        self.x, self.y, self.plan, self.subsets = x, y, plan, [s.to(x.device) for s in subsets]
        self.sizes = [len(s) for s in subsets]
        self.orders = [torch.Generator().manual_seed(seed) for _ in subsets]
        k, b = len(subsets), plan.batch_size
        self.perm = torch.zeros(plan.n, k, dtype=torch.int64, device=x.device)
        self.in_order = torch.full((plan.n, k), IGNORE, dtype=torch.int64, device=x.device)
        full = min(self.sizes) // b
        self.rows, self.label_rows = self.perm[:full * b].view(full, b, k), self.in_order[:full * b].view(full, b, k)
        self.counts = None  # real rows per model in the current eager batch, where some are padding

    def new_epoch(self) -> None:
        for k, (subset, order) in enumerate(zip(self.subsets, self.orders)):
            picked = subset[torch.randperm(len(subset), generator=order).to(subset.device)]
            self.perm[:len(picked), k] = picked
            self.in_order[:len(picked), k] = self.y[picked]

    def labels(self) -> torch.Tensor:
        return self.in_order.T

    def batch(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        b = self.plan.batch_size
        counts = [min(b, max(0, n - i * b)) for n in self.sizes]
        idx, labels = self.perm[i * b:(i + 1) * b], self.in_order[i * b:(i + 1) * b]
        self.counts = None if len(set(counts)) == 1 and counts[0] == len(idx) else torch.tensor(counts, device=idx.device)
        return self.x[idx], labels.T

    def row(self, counter: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, k = self.rows.shape[1:]
        self.counts = None  # full rows only: no padding
        idx = self.rows.index_select(0, counter).view(-1)
        x = self.x.index_select(0, idx).view(b, k, *self.x.shape[1:])
        return x, self.label_rows.index_select(0, counter).view(b, k).T


def padded_columns(subsets: list[torch.Tensor], y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, K) indices and labels of K subsets of different sizes, padded with image 0 and label IGNORE."""
    n = max(len(s) for s in subsets)
    idx = torch.zeros(n, len(subsets), dtype=torch.int64, device=y.device)
    labels = torch.full((n, len(subsets)), IGNORE, dtype=torch.int64, device=y.device)
    for k, s in enumerate(subsets):
        s = s.to(y.device)
        idx[:len(s), k], labels[:len(s), k] = s, y[s]
    return idx, labels


def stacked_score(forward: Callable, losses: Callable, amp, x: torch.Tensor, y: torch.Tensor,
                  subsets: list[torch.Tensor] | None = None, k: int = 1) -> Evaluator:
    """Loss and accuracy of every model over one set: shared by all (x, y) or one subset each (`subsets` of x)."""
    chunk = max(256, CHUNK // k)  # K models' outputs at once
    loss_sum = lambda out, labels: losses(out, labels).sum(-1)  # noqa: E731
    if subsets is None:
        return Evaluator(forward, loss_sum, chunked(x, y, chunk), torch.full((k,), float(len(y)), device=y.device), amp)
    idx, labels = padded_columns(subsets, y)
    parts = [(idx[i:i + chunk], labels[i:i + chunk].T) for i in range(0, len(idx), chunk)]
    return Evaluator(forward, loss_sum, parts, torch.tensor([float(len(s)) for s in subsets], device=y.device), amp,
                     gather=x)


def family_order(names: list[str]) -> list[int]:
    """Model indices reordered so that each optimizer family's models are contiguous (first seen, first)."""
    families = list(dict.fromkeys(names))
    return sorted(range(len(names)), key=lambda k: families.index(names[k]))


def learning_rates(cfg: TrainConfig, settings: list[tuple[str, float, dict]], plan: StepPlan,
                   device: torch.device) -> torch.Tensor:
    """(steps, K): every step's rate for each model, from the schedule `cfg` names or constant."""
    columns, cache = [], {}
    for name, lr, options in settings:
        key = (name, lr)
        if key not in cache:
            table = schedule_table(cfg.schedule, make_optimizer(name, [torch.zeros(1, requires_grad=True)], lr, **options),
                                   lr, plan, cfg.schedule_options)
            if table is not None and any(k != "lr" for k in table[0][0]):
                raise UserError("stacked training cannot cycle momentum; use a schedule that varies the rate only")
            cache[key] = [lr] if table is None else [row[0]["lr"] for row in table]
        columns.append(cache[key])
    return torch.tensor([[c[min(i, len(c) - 1)] for c in columns] for i in range(plan.total)], dtype=torch.float32,
                        device=device)


def settle_many(cfg: TrainConfig, optimizers: list[tuple[str, float]] | None, k: int) -> list[tuple[str, float, dict]]:
    """(optimizer, lr, options) per model: the config's options go with the config's optimizer only."""
    cfg.check()
    if cfg.augment != "none" or cfg.eval_every or cfg.init:
        raise UserError(f"stacked training takes no {named('augment')}, {named('eval_every')} or {named('init')}; train "
                        f"these models with fit")
    pairs = optimizers or [(cfg.optimizer, cfg.lr)] * k
    if len(pairs) != k:
        raise UserError(f"{k} models but {len(pairs)} optimizer settings")
    decay = {"weight_decay": cfg.weight_decay} if cfg.weight_decay else {}
    return [(name.lower(), lr, {**decay, **(cfg.optimizer_options if name.lower() == cfg.optimizer.lower() else {})})
            for name, lr in pairs]


def stack_refusal(models: list[Net], cfg: TrainConfig) -> str | None:
    """Why `models` cannot train as one stacked program under `cfg`, or None if they can."""
    try:
        check_stackable(models)
        for name, lr, options in settle_many(cfg, None, len(models)):
            family_defaults(name, lr, options)
        sample_losses(cfg.loss or default_loss(models[0].config.head))
    except UserError as exc:
        return str(exc)
    return None


@entry_point
def fit_many(models: list[Net], data: Splits, optimizers: list[tuple[str, float]] | None = None,
             config: TrainConfig | None = None, *, folds: Folds | None = None,
             on_epoch: Callable[[int, int], None] | None = None, **options) -> list[Run]:
    """Train `models` together, model k with `optimizers[k]` = (name, lr) (default: the config's for all).

    `config` (default: plain training, see PLAIN) and `options` (TrainConfig fields, overriding it) are shared
    by all models. Models must share a layer skeleton (train/stack.py); fully connected widths may differ.
    `folds` gives each model its own training (and validation) subset. Returns one Run per model, as `fit`
    would, with `train["batched"]` = K. A model whose loss stops being finite gets losses of None (its
    `Run.diverged` says so, not finite); the others are unaffected. `on_epoch(epoch, epochs)` is called after each epoch.
    """
    if not models:
        raise UserError("fit_many needs at least one model")
    try:
        cfg = replace(config or TrainConfig(**PLAIN), **options)
    except TypeError as exc:  # an option TrainConfig does not have
        raise UserError(f"fit_many: {exc}; the options are the fields of mnistlab.train.TrainConfig") from None
    settings = settle_many(cfg, optimizers, len(models))
    check_stackable(models)
    dev = resolve_device(cfg.device)
    data = data.to(dev)
    groups = stack_groups(models, dev)
    runs: list[Run | None] = [None] * len(models)
    for g, group in enumerate(groups):
        order = [group[i] for i in family_order([settings[k][0] for k in group])]
        part = folds and Folds([folds.train[k] for k in order], folds.val and [folds.val[k] for k in order], folds.test)
        done = (lambda e, n, g=g: on_epoch(g * n + e, len(groups) * n)) if on_epoch is not None else None
        trained = _train_stacked([models[k] for k in order], data, cfg, [settings[k] for k in order], part, dev, done)
        for k, run in zip(order, trained):
            runs[k] = run
    return runs


# What a stacked step costs on a CPU, in multiply-adds per sample: each program pays GROUP_COST (its share of
# Python, autograd and optimizer dispatch), each model MODEL_COST (its slice of every batched kernel) plus its
# padded weights. Fitted to one-thread CPU times of L5's FFNs (benchmarks/stack_groups.py).
GROUP_COST, MODEL_COST = 200_000, 80_000


def padded_size(models: list[Net]) -> int:
    """Weights each model of `models` holds once they are stacked: every layer padded to its widest."""
    layers = [[m.weight.numel() if isinstance(m, torch.nn.Conv2d) else (m.in_features, m.out_features)
               for m in weight_layers(model)] for model in models]
    total = 0
    for shapes in zip(*layers):
        total += shapes[0] if isinstance(shapes[0], int) else max(a for a, _ in shapes) * max(b for _, b in shapes)
    return total


def stack_groups(models: list[Net], device: torch.device) -> list[list[int]]:
    """Model indices split into the stacked programs that cost least on `device`.

    Stacking pads every layer to its widest model, so a grid of widths stacked as one program does up to ~2x
    the arithmetic its models need; each extra program costs its per-step overhead instead. On a CPU the
    models, ordered by size, are cut into the contiguous groups of least total cost (dynamic programming over
    the cost model above); on a GPU, where a step's cost is its kernel launches, they stay one program.
    """
    if device.type != "cpu" or len(models) < 2:
        return [list(range(len(models)))]
    order = sorted(range(len(models)), key=lambda k: padded_size([models[k]]))
    best = [0.0] + [math.inf] * len(order)  # best[j]: least cost of the first j models; cut[j]: its last group's start
    cut = [0] * (len(order) + 1)
    for j in range(1, len(order) + 1):
        for i in range(j):
            group = [models[k] for k in order[i:j]]
            cost = best[i] + GROUP_COST + len(group) * (MODEL_COST + padded_size(group))
            if cost < best[j]:
                best[j], cut[j] = cost, i
    groups, j = [], len(order)
    while j:
        groups.append(sorted(order[cut[j]:j]))
        j = cut[j]
    return sorted(groups)


def _train_stacked(models: list[Net], data: Splits, cfg: TrainConfig, settings: list[tuple[str, float, dict]],
                   folds: Folds | None, dev: torch.device, on_epoch) -> list[Run]:
    """Build the stack, its optimizer, batches and scores; train; hand back one Run per model (in this order)."""
    head, k = models[0].config.head, len(models)
    loss_name = cfg.loss or default_loss(head)
    check_loss(loss_name, head, cfg.label_smoothing)
    sizes = [len(data.y_train)] * k if folds is None else [len(s) for s in folds.train]
    plans = {StepPlan.of(n, cfg.batch_size, cfg.epochs, cfg.drop_last, cfg.max_steps).steps_per_epoch for n in sizes}
    if len(plans) > 1:
        raise UserError(f"stacked models must take the same number of steps per epoch; their training sets of "
                        f"{min(sizes)}..{max(sizes)} images at batch {cfg.batch_size} do not")
    plan = StepPlan.of(max(sizes), cfg.batch_size, cfg.epochs, cfg.drop_last, cfg.max_steps)
    stack = Stack(models, dev)
    families, start = [], 0
    for name in dict.fromkeys(s[0] for s in settings):
        rows = [s for s in settings if s[0] == name]
        families.append((name, slice(start, start + len(rows)), family_defaults(name, rows[0][1], rows[0][2])))
        start += len(rows)
    optimizer = StackedOptimizer(stack.parameters(), families, learning_rates(cfg, settings, plan, dev))
    source = (BatchSource(data.x_train, data.y_train, plan, cfg.seed) if folds is None
              else SubsetSource(data.x_train, data.y_train, folds.train, plan, cfg.seed))
    train_losses, plain = sample_losses(loss_name, cfg.label_smoothing), sample_losses(loss_name)

    def loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        per = train_losses(out, y)
        counts = getattr(source, "counts", None)
        if counts is None:
            return per.mean(1)
        total = per.sum(1)  # a padded last batch: the mean over each model's real rows drives the gradient,
        mean = total / counts  # the engine accumulates value x batch rows, which must come to that total
        return mean + (total / per.shape[1] - mean).detach()

    precision = resolve_precision(cfg.precision, dev, models[0].is_cnn)
    amp = autocast_for(dev, precision)
    engine = Engine(stack, [], [optimizer], source, StepSpec(loss=loss, amp=amp, capture=cfg.capture, models=k))
    scores = {"test": stacked_score(stack, plain, amp, data.x_test, data.y_test, k=k)
              if folds is None or folds.test else None}
    if folds is not None and folds.val is not None:
        scores["val"] = stacked_score(stack, plain, amp, data.x_train, data.y_train, folds.val, k)
    elif data.x_val is not None:
        scores["val"] = stacked_score(stack, plain, amp, data.x_val, data.y_val, k=k)
    progress = (lambda row: on_epoch(row["epoch"], plan.epochs)) if on_epoch is not None else None
    rows = train(engine, lambda *_: {name: s() if s else None for name, s in scores.items()}, Stopwatch(dev),
                 on_epoch=progress)
    stack.copy_into(models)
    record = {"loss": loss_name, "device": dev.type, "precision": precision, "epochs_trained": plan.epochs_trained,
              "batched": k, "capture": str(engine.capture), "capture_s": round(engine.capture_s, 4)}
    return _runs(models, data, cfg, settings, folds, rows, plan, sizes, record)


def _runs(models: list[Net], data: Splits, cfg: TrainConfig, settings: list[tuple[str, float, dict]],
          folds: Folds | None, rows: list[dict], plan: StepPlan, sizes: list[int], record: dict) -> list[Run]:
    """One Run per model from the stacked rows; training means rescaled to each model's own image count."""
    seen = [[min(n, plan.steps_in(r["epoch"]) * plan.batch_size) / plan.images_in(r["epoch"]) for n in sizes] for r in rows]
    runs = []
    for i, model in enumerate(models):
        name, lr, opts = settings[i]
        history = [model_row(r, i, s[i]) for r, s in zip(rows, seen)]
        train_record = {**asdict(replace(cfg, optimizer=name, lr=lr, optimizer_options=opts)), **record}
        info = dict(data.info)
        x_val, y_val = data.x_val, data.y_val
        if folds is not None:
            info.update(n_train=sizes[i], n_val=0 if folds.val is None else len(folds.val[i]))
            x_val, y_val = (None, None) if folds.val is None else (data.x_train[folds.val[i]], data.y_train[folds.val[i]])
        model = model.to(data.x_train.device).eval()
        runs.append(Run(model, data.normalizer, train_record, info, history, tuple(data.classes),
                        calibration=calibrate(model, x_val, y_val, autocast_for(data.x_train.device, record["precision"]))))
    return runs


def finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def model_row(raw: dict, k: int, seen: float) -> dict:
    """Model k's history row from the stacked row; `seen` rescales the training means to its own image count."""
    row = {"epoch": raw["epoch"], "train_loss": finite_or_none(raw["train_loss"][k] / seen),
           "train_accuracy": raw["train_accuracy"][k] / seen}
    for name in ("val", "test"):
        result = raw["evals"].get(name)
        row[f"{name}_loss"] = None if result is None else finite_or_none(float(result[0][k]))
        row[f"{name}_accuracy"] = None if result is None else float(result[1][k])
    return {**row, "seconds": raw["seconds"], "eval_seconds": raw["eval_seconds"]}
