"""A PyTorch recipe (train/recipes.py) read for the NumPy engine: every hyperparameter comes from there.

`scratch_plan("default", 60000)` is the default recipe's network, normalization, Adam, one-cycle schedule,
label smoothing, batch size and epochs, settled exactly as `mnistlab train --recipe default` settles them
(`settle`, `StepPlan`, `one_cycle_fit`). What the NumPy engine does not implement (another optimizer or
schedule, weight decay, augmentation, a probability head) is refused in one line, naming the option. A recipe's
`held_aside` share (training images kept back to fit a temperature that calibrates `mnistlab train`'s
probabilities) is not taken: the NumPy engine fits no temperature, so it trains on every training image.
"""
from __future__ import annotations

from ..errors import UserError
from ..train.config import TrainConfig
from ..train.engine import StepPlan
from ..train.optim import one_cycle_fit
from ..train.recipes import get_recipe, settle
from .optim import OPTIMIZERS
from .trainer import SCHEDULES, Plan

OPTIMIZER_OPTIONS = {"betas", "eps"}
SCHEDULE_OPTIONS = {"pct_start", "anneal_strategy", "div_factor", "final_div_factor"}
# TrainConfig fields the NumPy engine has no counterpart for, and the value that means "not used"
UNUSED = {"weight_decay": 0.0, "augment": "none", "drop_last": False, "max_steps": 0, "eval_every": 0, "init": ""}


def _refuse_unimplemented(recipe: str, settings: dict, head: str) -> None:
    def refuse(what: str) -> None:
        raise UserError(f"recipe {recipe!r}: {what} is not implemented in the NumPy engine; train it with "
                        f"`mnistlab train --recipe {recipe}`")
    if settings["optimizer"] not in OPTIMIZERS:
        refuse(f"optimizer {settings['optimizer']!r} (it has {', '.join(OPTIMIZERS)})")
    if settings["schedule"] not in SCHEDULES:
        refuse(f"schedule {settings['schedule']!r} (it has {', '.join(SCHEDULES)})")
    if head != "logits" or settings["loss"] not in (None, "ce"):
        refuse(f"head {head!r} with loss {settings['loss'] or 'ce'!r} (it trains logits with cross-entropy)")
    for key, unused in UNUSED.items():
        if settings[key] != unused:
            refuse(f"{key} {settings[key]!r}")
    extra = set(settings["optimizer_options"]) - OPTIMIZER_OPTIONS | set(settings["schedule_options"]) - SCHEDULE_OPTIONS
    if extra:
        refuse(f"option {sorted(extra)[0]!r}")


def scratch_plan(recipe: str, n_train: int, model: str | None = None, activation: str | None = None,
                 **given) -> Plan:
    """The Plan for `n_train` training images under `recipe`, with `model`/`activation` instead of its own and
    TrainConfig fields `given` (epochs=1, lr=..., seed=...) winning over it, as `mnistlab train` does."""
    r = get_recipe(recipe)
    spec = model if model is not None else r.model
    settings = settle(recipe, spec, given)
    TrainConfig(**settings).check()
    _refuse_unimplemented(recipe, settings, r.head)
    steps = StepPlan.of(n_train, settings["batch_size"], settings["epochs"])
    schedule_options, schedule_steps = dict(settings["schedule_options"]), steps.total
    if settings["schedule"] == "onecycle":  # a run too short for the warm-up: as `mnistlab train` fits it
        schedule_options, schedule_steps = one_cycle_fit(schedule_options, steps.total)
    return Plan(spec=spec, activation=activation or r.activation, normalize=r.normalize,
                batch_size=settings["batch_size"], steps_per_epoch=steps.steps_per_epoch, total_steps=steps.total,
                optimizer=settings["optimizer"], lr=settings["lr"],
                optimizer_options={k: tuple(v) if k == "betas" else v for k, v in settings["optimizer_options"].items()},
                schedule=settings["schedule"], schedule_options=schedule_options, schedule_steps=schedule_steps,
                label_smoothing=settings["label_smoothing"], seed=settings["seed"])
