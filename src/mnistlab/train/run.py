"""A trained model with its record, and its directory: model.safetensors (weights) and run.json (the rest).

Nothing executable is stored, so loading a run never unpickles code.
"""
from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ..data.transforms import Normalizer
from ..errors import UserError
from ..fileio import atomic_dir, write_json
from ..models import ModelConfig, Net, build_model
from .config import METRICS
from .device import autocast_for, fast_bf16, resolve_device
from .metrics import outputs_of, to_probs

WEIGHTS, META = "model.safetensors", "run.json"


@dataclass
class Run:
    """A trained model with what it was trained on and how it did."""

    model: Net
    normalizer: Normalizer
    train: dict
    data: dict
    history: list[dict]
    classes: tuple[str, ...] = tuple(str(d) for d in range(10))
    run_dir: Path | None = None
    extras: dict = field(default_factory=dict)  # optional records such as weight histograms

    @property
    def final(self) -> dict:
        return {k: self.history[-1][k] for k in METRICS} if self.history else {}

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def prepare(self, images) -> torch.Tensor:
        """Raw pixels (N, 28, 28) / (N, 784), uint8 or 0..255 → the model's input, normalized as in training."""
        return self.normalizer(images, self.device)

    def outputs(self, images) -> torch.Tensor:
        """The model's outputs for raw-pixel images: in bf16 if it was trained so and this device computes bf16 natively."""
        bf16 = self.train.get("precision") == "bf16" and fast_bf16(self.device)
        return outputs_of(self.model, self.prepare(images), autocast=autocast_for(self.device, "bf16" if bf16 else "fp32"))

    def predict(self, images) -> tuple[np.ndarray, np.ndarray]:
        """Predicted classes and class probabilities for raw-pixel images, as NumPy arrays."""
        out = self.outputs(images)
        probs = to_probs(out, self.model.config.head)
        return probs.argmax(1).cpu().numpy(), probs.cpu().numpy()

    def save(self, out_dir: str | Path) -> Path:
        self.run_dir = save_run(self, out_dir)
        return self.run_dir


def default_run_dir(root: str | Path = "runs") -> Path:
    """runs/<date>-<time>, with a suffix when that name is taken."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = Path(root) / stamp
    k = 1
    while path.exists():
        k += 1
        path = Path(root) / f"{stamp}-{k}"
    return path


def run_record(run) -> dict:
    from .. import __version__

    return {"mnistlab": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "versions": {"python": platform.python_version(), "torch": torch.__version__},
            "model": run.model.config.to_dict(), "summary": run.model.rows, "data": run.data,
            "normalize": run.normalizer.to_dict(), "classes": list(run.classes), "train": run.train,
            "history": run.history, "final": run.final, "extras": run.extras}


def check_out_dir(out: str | Path) -> Path:
    """A run may go to a new or empty folder, or replace an earlier run; never over other files."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / META).is_file())):
        raise UserError(f"--out {out}: exists and is not an mnistlab run; choose a new or empty folder")
    return out


def save_run(run, out_dir: str | Path) -> Path:
    """Write the run into a fresh folder that replaces `out_dir` whole, so no reader sees half a run."""
    out = check_out_dir(out_dir)
    state = {k: v.detach().to("cpu").contiguous() for k, v in run.model.state_dict().items()}
    with atomic_dir(out) as tmp:
        save_file(state, str(tmp / WEIGHTS))
        write_json(tmp / META, run_record(run))
    return out


def load_run(run_dir: str | Path, device: str = "cpu"):
    """Restore a Run from its directory; a missing or foreign directory is a user error."""
    path = Path(run_dir)
    if not path.is_dir():
        raise UserError(f"run directory {path} does not exist; pass a folder written by `mnistlab train --out`")
    meta_path, weights = path / META, path / WEIGHTS
    if not meta_path.is_file() or not weights.is_file():
        raise UserError(f"{path} is not an mnistlab run (needs {META} and {WEIGHTS}); pass a folder written by `mnistlab train`")
    try:
        meta = json.loads(meta_path.read_text())
        config = ModelConfig.from_dict(meta["model"])
        normalizer = Normalizer(**meta["normalize"])
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{meta_path}: not a valid mnistlab run record ({exc.__class__.__name__}: {exc})") from None
    model = build_model(config.spec, config.activation, config.head, config.input_shape, config.n_classes, seed=None)
    try:
        model.load_state_dict(load_file(str(weights)))
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise UserError(f"{weights}: cannot load weights ({str(exc).splitlines()[0]}); the file is damaged or from another model") from None
    model.to(resolve_device(device)).eval()
    return Run(model, normalizer, meta.get("train", {}), meta.get("data", {}), meta.get("history", []),
               tuple(meta.get("classes", [str(d) for d in range(config.n_classes)])), path, meta.get("extras", {}))
