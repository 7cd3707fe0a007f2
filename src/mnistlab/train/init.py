"""`--init RUN`: start training from a run's weights (fine-tuning on a user's own digits, for instance).

The run must have the same model: spec, activation, head, input shape and number of classes; otherwise the
message names the first layer that differs. The new data is scaled with the run's own pixel constants, which
its weights were trained to expect.
"""
from __future__ import annotations

from dataclasses import replace
from itertools import zip_longest

import numpy as np
import torch

from ..data.splits import Splits
from ..data.transforms import Normalizer
from ..errors import UserError
from ..models import Net
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
