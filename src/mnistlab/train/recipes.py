"""Named training recipes: a model, its data preparation and every training option, as plain data.

`fast` is tuned for the shortest time to 99% test accuracy on full MNIST (see docs/benchmarks.md);
`best` for the highest single-model accuracy; `default` is what `mnistlab train` uses without --recipe.
The published recipes `mnistlab bench` measures ours against sit beside them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..data.sources import Dataset
from ..data.splits import make_splits
from ..errors import UserError
from ..models import build_model, pool_before_activation


@dataclass(frozen=True)
class Recipe:
    description: str
    model: str
    normalize: str = "standard"
    activation: str = "relu"
    head: str = "logits"
    train: dict = field(default_factory=dict)  # TrainConfig fields
    pool_first: bool = False  # activation behind the max-pool that follows it (same outputs; as published)
    dataloader: bool = False  # `mnistlab bench` trains it with torch's DataLoader loop, as published
    reference: str = ""  # where a published recipe comes from; `bench` runs it as published (eager)


# Adam with betas (0.7, 0.9) and a one-cycle schedule is the fast-reference recipe's optimizer. What is ours
# (docs/benchmarks.md measures each): label smoothing 0.1, a shorter warm-up with a linear decay, the 2-pixel
# border cropped off (MNIST digits sit in the middle 20x20, so 24x24 keeps them: a quarter less time per step), a
# stride-2 first convolution instead of conv + max-pool (4x less first-layer work), bf16 autocast ("auto":
# where the device computes bf16 natively) and channels_last memory.
_FAST_MODEL = "crop2 c24k5s2 c32k3 m2 f256"
_FAST_TRAIN = dict(batch_size=256, optimizer="adam", lr=1e-2, optimizer_options={"betas": (0.7, 0.9)},
                   schedule="onecycle", schedule_options={"pct_start": 0.2, "anneal_strategy": "linear"},
                   label_smoothing=0.1, precision="auto", channels_last=True)
_BEST_MODEL = "c32k3p1 bn c32k3p1 bn m2 c64k3p1 bn c64k3p1 bn m2 f256 bn d0.3"
_BEST_TRAIN = dict(epochs=15, batch_size=128, optimizer="adamw", lr=3e-3, weight_decay=5e-4, schedule="onecycle",
                   label_smoothing=0.1, augment="affine", precision="auto", channels_last=True)
RECIPES: dict[str, Recipe] = {
    "fast": Recipe("0.8 of an epoch to about 99.15%: the fastest time to 99%", _FAST_MODEL,
                   train=dict(_FAST_TRAIN, epochs=0.8)),
    "default": Recipe("the fast recipe for two epochs: about 99.35%", _FAST_MODEL, train=dict(_FAST_TRAIN, epochs=2)),
    "best-short": Recipe("the best recipe's network and options for 3 epochs at batch 256: 99.5% in about a second "
                         "on an H100 with CUDA graphs", _BEST_MODEL, train=dict(_BEST_TRAIN, epochs=3, batch_size=256, lr=6e-3)),
    "best": Recipe("highest single-model accuracy: a batch-normalized VGG-style net with random affine "
                   "augmentation and label smoothing, 15 epochs", _BEST_MODEL, train=_BEST_TRAIN),
    # Published recipes, the yardsticks of `mnistlab bench`: trained as published, eagerly, in fp32.
    "fast-reference": Recipe("'MNIST to 99% in under a second': conv24k5, pool, ReLU, conv32k3, pool, ReLU, fc 256, "
                             "log-softmax + NLL, Adam 1e-2 betas (0.7, 0.9), one-cycle, batch 256, one epoch",
                             "c24k5 m2 c32k3 m2 f256", head="log_softmax", pool_first=True,
                             train=dict(epochs=1, batch_size=256, optimizer="adam", lr=1e-2,
                                        optimizer_options={"betas": (0.7, 0.9)}, schedule="onecycle",
                                        precision="fp32", channels_last=False, capture="off"),
                             reference="the widely shared 'MNIST in under a second' PyTorch recipe"),
    "pytorch-examples": Recipe("PyTorch's examples/mnist: batch 64 through a DataLoader, Adadelta lr 1.0, "
                               "StepLR gamma 0.7, 14 epochs", "c32k3 c64k3 m2 d0.25 f128 d0.5", head="log_softmax",
                               train=dict(epochs=14, batch_size=64, optimizer="adadelta", lr=1.0, schedule="step",
                                          precision="fp32", channels_last=False, capture="off"),
                               dataloader=True, reference="github.com/pytorch/examples, mnist/main.py"),
}


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise UserError(f"unknown recipe {name!r}; choose one of: {', '.join(RECIPES)}")
    return RECIPES[name]


def recipe_settings(name: str) -> dict:
    """The recipe as one flat dict: model, activation, head, normalize and the TrainConfig fields."""
    recipe = get_recipe(name)
    return {"model": recipe.model, "activation": recipe.activation, "head": recipe.head,
            "normalize": recipe.normalize, "weight_decay": 0.0, "augment": "none", "optimizer_options": {},
            "schedule_options": {}, "label_smoothing": 0.0,
            **recipe.train}


def tied_options(settings: dict, optimizer: str, schedule: str, model: str) -> dict:
    """The recipe's options that hold only with its own choices: optimizer options with its optimizer, the
    schedule's shape with its schedule and model, label smoothing with its model (a lecture's network keeps
    the plain loss it was taught with)."""
    own_model = model == settings["model"]
    return {"optimizer_options": settings["optimizer_options"] if optimizer == settings["optimizer"] else {},
            "schedule_options": settings["schedule_options"] if own_model and schedule == settings["schedule"] else {},
            "label_smoothing": settings["label_smoothing"] if own_model else 0.0}


def train_recipe(name: str, data: Dataset, *, seed: int = 0, device: str = "auto", progress: bool = False,
                 **overrides):
    """Prepare `data`, build and train the recipe's model; `overrides` replace TrainConfig fields (another
    optimizer or schedule drops the recipe's options for its own)."""
    from .device import resolve_device
    from .loop import fit

    recipe = get_recipe(name)
    settings = recipe_settings(name)
    tied = tied_options(settings, overrides.get("optimizer", settings["optimizer"]),
                        overrides.get("schedule", settings["schedule"]), recipe.model)
    splits = make_splits(data, recipe.normalize, device=resolve_device(device))
    model = build_model(recipe.model, recipe.activation, recipe.head, tuple(splits.x_train.shape[1:]),
                        len(data.classes), seed)
    if recipe.pool_first:
        model = pool_before_activation(model)
    return fit(model, splits, progress=progress, **{**recipe.train, **tied, "seed": seed, "device": device, **overrides})
