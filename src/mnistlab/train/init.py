"""`--init RUN`: start training from a run's weights (fine-tuning on a user's own digits, for instance).

The run must have the same model: spec, activation, head and input shape; otherwise the message names the first
layer that differs, before the data is read. The data's labels are matched to the run's classes by name, so a
folder of some of them (a digits folder of 3s and 7s) trains those classes, as `finetune` reads it. The new data
is scaled with the run's own pixel constants, which its weights were trained to expect.
"""
from __future__ import annotations

from dataclasses import replace
from itertools import zip_longest

import numpy as np
import torch

from ..data.splits import Splits
from ..data.transforms import Normalizer
from ..errors import UserError
from ..models import Net, format_spec, parse_spec
from .run import load_run


def difference(run_dir: str, theirs, ours) -> str | None:
    """What differs between the run's model config and ours, naming the layer; None when they match."""
    if tuple(theirs.input_shape) != tuple(ours.input_shape):
        shape = lambda s: "x".join(map(str, s))  # noqa: E731
        return f"the run's model takes {shape(theirs.input_shape)} inputs but this data is {shape(ours.input_shape)}"
    for k, (a, b) in enumerate(zip_longest(theirs.spec.split(), ours.spec.split()), start=1):
        if a != b:
            return (f"layer {k} differs: the run has {a or 'nothing'!r} where this model has {b or 'nothing'!r} "
                    f"(run '{theirs.spec}', this '{ours.spec}'); train with --model '{theirs.spec}'")
    if theirs.n_classes != ours.n_classes:
        return f"the output layer differs: the run has {theirs.n_classes} classes, this data {ours.n_classes}"
    for field in ("activation", "head"):
        if getattr(theirs, field) != getattr(ours, field):
            return f"the {field} differs: the run's is {getattr(theirs, field)}, this model's {getattr(ours, field)}"
    return None


def check_init(run_dir: str, spec: str | None, activation: str | None, head: str | None) -> tuple[str, ...]:
    """Before the data load: the run loads, and the model chosen (None: the run's own) is its model; returns the
    run's class names, which the data's labels are then matched to by name (a digits folder of 3s and 7s trains
    the run's classes 3 and 7, as `finetune` reads it)."""
    run = load_run(run_dir)
    config = run.model.config
    chosen = {"spec": spec and format_spec(parse_spec(spec)), "activation": activation, "head": head}
    problem = difference(run_dir, config, replace(config, **{k: v for k, v in chosen.items() if v is not None}))
    if problem:  # the data's shape and classes are known only once it is read; the model is known now
        raise UserError(f"--init {run_dir}: {problem}")
    return tuple(run.classes)


def rescale(x: torch.Tensor, old: Normalizer, new: Normalizer) -> torch.Tensor:
    """Images normalized by `old` as `new` would have normalized the same pixels (both are affine in the pixel)."""
    if old == new:
        return x
    if "binary" in (old.mode, new.mode):
        raise UserError(f"--init: the run scales pixels '{new.mode}' and this data '{old.mode}'; pass --normalize {new.mode}")
    ends = np.array([[[[0]]], [[[255]]]], dtype=np.uint8)
    o, n = old(ends, x.device), new(ends, x.device)  # (2, C, 1, 1): the images of black and white
    return (x - o[0]) / (o[1] - o[0]) * (n[1] - n[0]) + n[0]


def start_from(model: Net, data: Splits, run_dir: str) -> Splits:
    """Load the run's weights into `model` (refusing another model) and return `data` scaled as the run scales
    pixels."""
    source = load_run(run_dir)
    problem = difference(run_dir, source.model.config, model.config)
    if problem:
        raise UserError(f"--init {run_dir}: {problem}")
    model.load_state_dict(source.model.state_dict())
    norm = source.normalizer
    move = lambda t: None if t is None else rescale(t, data.normalizer, norm)  # noqa: E731
    return replace(data, x_train=move(data.x_train), x_test=move(data.x_test), x_val=move(data.x_val), normalizer=norm,
                   info={**data.info, "normalize": norm.to_dict(), "init": str(run_dir)})
