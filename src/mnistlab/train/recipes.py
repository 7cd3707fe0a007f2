"""Named training recipes: a model, its data preparation and every training option, as plain data.

`fast` is tuned for the shortest time to 99% test accuracy on full MNIST (see docs/benchmarks.md);
`best` for the highest single-model accuracy; `default` is what `mnistlab train` uses without --recipe.
The published recipes `mnistlab bench` measures ours against sit beside them.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from ..data.transforms import DEFAULT_NORMALIZE
from ..errors import UserError
from ..models.grammar import format_spec, parse_spec
from .config import TrainConfig

if TYPE_CHECKING:  # torch's: `train --help` reads the recipes, `prepare` builds with them
    from ..data.dataset import Dataset
    from ..data.splits import Splits
    from ..models import Net


@dataclass(frozen=True)
class Recipe:
    description: str
    model: str
    normalize: str = DEFAULT_NORMALIZE
    activation: str = "relu"
    head: str = "logits"
    train: dict = field(default_factory=dict)  # TrainConfig fields that differ from its defaults
    pool_first: bool = False  # activation behind the max-pool that follows it (same outputs; as published)
    dataloader: bool = False  # `mnistlab bench` trains it with torch's DataLoader loop, as published
    reference: str = ""  # where a published recipe comes from; `bench` runs it as published (eager)
    held_aside: float = 0.0  # share of the training images held aside (off the end) to fit the temperature (calibration.py)


# The default recipe is TrainConfig's defaults (config.py) with this model and `normalize`: Adam with betas
# (0.7, 0.9) and a one-cycle schedule, as the fast-reference recipe trains. What is ours (docs/benchmarks.md
# measures each): label smoothing 0.1, a shorter warm-up with a linear decay, the 2-pixel border cropped off
# (MNIST digits sit in the middle 20x20, so 24x24 keeps them: a quarter less time per step), a stride-2 first
# convolution instead of conv + max-pool (4x less first-layer work), bf16 autocast ("auto": where the device
# computes bf16 natively) and channels_last memory. Every other recipe lists its differences from it.
_DEFAULT_MODEL = "crop2 c24k5s2 c32k3 m2 f256"
_BEST_MODEL = "c32k3p1 bn c32k3p1 bn m2 c64k3p1 bn c64k3p1 bn m2 f256 bn d0.3"
_BEST_TRAIN = dict(epochs=15, batch_size=128, optimizer="adamw", lr=3e-3, weight_decay=5e-4, optimizer_options={},
                   schedule_options={}, augment="affine")
# default and robust hold aside 1/12 of the training images to fit the temperature: 5,000 of MNIST's 60,000 give a
# steady one and keep their accuracy (docs/robustness.md); a set so small that this is under 100 holds none back
HELD_ASIDE, MIN_HELD_ASIDE = 1 / 12, 100
_AS_PUBLISHED = dict(label_smoothing=0.0, schedule_options={}, precision="fp32", channels_last=False, capture="off")
ROBUST_AUGMENT = "elastic,stroke,blur,lowres,lines,contrast,noise,share=0.25,until=0.85"  # ROBUST at strength 1
RECIPES: dict[str, Recipe] = {
    "default": Recipe("the fast recipe for two epochs, 1/12 of the training images held aside to calibrate its "
                       "probabilities: about 99.34%", _DEFAULT_MODEL, held_aside=HELD_ASIDE),
    "fast": Recipe("0.8 of an epoch to about 99.15%: the fastest time to 99%", _DEFAULT_MODEL, train=dict(epochs=0.8)),
    "robust": Recipe("for reading people's digits: the default network trained 5 epochs at batch 512; until the "
                     "last 15% of the steps, a quarter of each batch distorted, thickened, thinned, hollowed, blurred, "
                     "marked, striped, faded, put on gray paper and fogged, scanned coarsely and made noisy (drawn on "
                     "the device inside the step); 1/12 of the training images held aside to calibrate it", _DEFAULT_MODEL,
                     train=dict(epochs=5, batch_size=512, augment=ROBUST_AUGMENT), held_aside=HELD_ASIDE),
    "best-short": Recipe("the best recipe's network and options for 3 epochs at batch 256: 99.5% in about a second "
                         "on an H100 with CUDA graphs", _BEST_MODEL, train=dict(_BEST_TRAIN, epochs=3, batch_size=256, lr=6e-3)),
    "best": Recipe("highest single-model accuracy: a batch-normalized VGG-style net with random affine "
                   "augmentation and label smoothing, 15 epochs", _BEST_MODEL, train=_BEST_TRAIN),
    # Published recipes, the yardsticks of `mnistlab bench`: trained as published, eagerly, in fp32.
    "fast-reference": Recipe("'MNIST to 99% in under a second': conv24k5, pool, ReLU, conv32k3, pool, ReLU, fc 256, "
                             "log-softmax + NLL, Adam 1e-2 betas (0.7, 0.9), one-cycle, batch 256, one epoch",
                             "c24k5 m2 c32k3 m2 f256", head="log_softmax", pool_first=True,
                             train=dict(_AS_PUBLISHED, epochs=1),
                             reference="the widely shared 'MNIST in under a second' PyTorch recipe"),
    "pytorch-examples": Recipe("PyTorch's examples/mnist: batch 64 through a DataLoader, Adadelta lr 1.0, "
                               "StepLR gamma 0.7, 14 epochs", "c32k3 c64k3 m2 d0.25 f128 d0.5", head="log_softmax",
                               train=dict(_AS_PUBLISHED, epochs=14, batch_size=64, optimizer="adadelta", lr=1.0,
                                          optimizer_options={}, schedule="step"),
                               dataloader=True, reference="github.com/pytorch/examples, mnist/main.py"),
}


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise UserError(f"unknown recipe {name!r}; choose one of: {', '.join(RECIPES)}")
    return RECIPES[name]


def recipe_settings(name: str) -> dict:
    """Every TrainConfig field as the recipe sets it: the defaults, then the recipe's differences."""
    return {**asdict(TrainConfig()), **get_recipe(name).train}


def settle(name: str, model: str, given: dict) -> dict:
    """Every TrainConfig field for training `model` under recipe `name` with the options the user `given`.

    The one place where a recipe meets a user's choices (the CLI and the Python API both come here). The
    recipe's optimizer options hold only with its optimizer; its schedule's shape only with its schedule and
    its own model; its label smoothing only with its own model, so a lecture's network keeps the plain loss
    it was taught with. Options given explicitly always win.
    """
    settings = recipe_settings(name)
    own_model = format_spec(parse_spec(model)) == format_spec(parse_spec(get_recipe(name).model))
    same_optimizer = given.get("optimizer", settings["optimizer"]) == settings["optimizer"]
    same_schedule = given.get("schedule", settings["schedule"]) == settings["schedule"]
    tied = {"optimizer_options": settings["optimizer_options"] if same_optimizer else {},
            "schedule_options": settings["schedule_options"] if own_model and same_schedule else {},
            "label_smoothing": settings["label_smoothing"] if own_model else 0.0}
    return {**settings, **tied, **given}


def held_aside(recipe: Recipe, n: int) -> int:
    """How many of `n` training images the recipe holds aside for the temperature (none under MIN_HELD_ASIDE)."""
    k = round(n * recipe.held_aside)
    return k if k >= MIN_HELD_ASIDE else 0


@dataclass(frozen=True)
class Choices:
    """What a command or notebook chose instead of the recipe's own (None: the recipe's), and how the data is cut."""

    model: str | None = None
    activation: str | None = None
    head: str | None = None
    normalize: str | None = None
    val: int | None = None  # validation images carved off the end of train (None: the recipe's)
    train_size: int | None = None


def prepare(name: str, data: Dataset, choices: Choices = Choices(), seed: int = 0, device: str = "auto") -> tuple[Splits, Net]:
    """The recipe's splits and model (its own, or the `choices` given instead), ready for `fit`."""
    # torch: the splits and the model are built here; `train --help` reads the recipes without it
    from ..data.splits import make_splits
    from ..models import build_model, pool_before_activation
    from .device import resolve_device

    recipe, c = get_recipe(name), choices
    val = held_aside(recipe, len(data.train_labels)) if c.val is None else c.val
    splits = make_splits(data, c.normalize or recipe.normalize, val, c.train_size, resolve_device(device))
    net = build_model(c.model or recipe.model, c.activation or recipe.activation, c.head or recipe.head,
                      tuple(splits.x_train.shape[1:]), len(data.classes), seed)
    return splits, pool_before_activation(net) if recipe.pool_first and c.model is None else net
