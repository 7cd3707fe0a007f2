"""A trained model with its record, and its directory: model.safetensors (weights) and run.json (the rest).

Nothing executable is stored, so loading a run never unpickles code.
"""
from __future__ import annotations

import json
import math
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .. import __version__
from ..data.transforms import NORMALIZATIONS, Normalizer
from ..display import curve_svg, heading, pairs
from ..errors import UserError, named
from ..fileio import atomic_dir, check_output, check_space, exclusive, file_digest, reserve, write_json
from ..models import ACTIVATIONS, HEADS, ModelConfig, Net, build_model
from .config import METRICS
from .device import autocast_for, fast_bf16, resolve_device
from .divergence import Divergence, divergence
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
    calibration: dict = field(default_factory=dict)  # the temperature fitted after training (calibration.py); {}: none

    @property
    def final(self) -> dict:
        return {k: self.history[-1][k] for k in METRICS} if self.history else {}

    @property
    def diverged(self) -> Divergence | None:
        """Why this run counts as diverged (see `divergence`), or None."""
        return divergence(self.history, self.train, self.model.config.head, self.model.config.n_classes)

    @property
    def temperature(self) -> float:
        """What the logits are divided by before the softmax: the fitted one, or 1 for a run without (an older run.json)."""
        return float(self.calibration.get("temperature", 1.0))

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def prepare(self, images) -> torch.Tensor:
        """Raw pixels (N, H, W) / (N, C, H, W) / (N, 784), uint8 or 0..255 → the model's input, normalized as in training."""
        return self.normalizer(images, self.device)

    def outputs(self, images) -> torch.Tensor:
        """The model's outputs for raw-pixel images: in bf16 if it was trained so and this device computes bf16 natively."""
        bf16 = self.train.get("precision") == "bf16" and fast_bf16(self.device)
        x = self.prepare(images)
        shape = tuple(self.model.config.input_shape)
        if tuple(x.shape[1:]) != shape:
            size = lambda s: "x".join(map(str, s))  # noqa: E731
            raise UserError(f"{self.run_dir or 'this run'}: the model takes {size(shape)} images (channels x height x "
                            f"width) but was given {size(x.shape[1:])}; use data or images of the size it was trained on")
        return outputs_of(self.model, x, autocast=autocast_for(self.device, "bf16" if bf16 else "fp32"))

    def predict(self, images) -> tuple[np.ndarray, np.ndarray]:
        """Predicted classes and class probabilities for raw-pixel images, as NumPy arrays; the probabilities
        calibrated by the run's temperature."""
        out = self.outputs(images)
        probs = to_probs(out, self.model.config.head, self.temperature)
        return probs.argmax(1).cpu().numpy(), probs.cpu().numpy()

    def confidence(self, images) -> np.ndarray:
        """The log of each image's calibrated top probability (N,): how surely it reads as one digit. The number
        reader scores its candidate cuts with it (prepare.find_digits' `judge`)."""
        return np.log(np.maximum(self.predict(images)[1].max(axis=1), 1e-12))

    def save(self, out_dir: str | Path) -> Path:
        self.run_dir = save_run(self, out_dir)
        return self.run_dir

    def __repr__(self) -> str:
        final = ", ".join(f"{k} {100 * v:.2f}%" for k, v in self.final.items() if k.endswith("accuracy") and v is not None)
        return f"Run('{self.model.config.spec}', {len(self.history)} epoch(s), {self.data.get('name', '?')}: {final or 'untrained'})"

    def _repr_html_(self) -> str:
        """Jupyter: model, data, training settings and final metrics in one table, then the learning curves."""
        cfg, t, d = self.model.config, self.train, self.data
        sizes = " / ".join(f"{d[k]:,} {k[2:]}" for k in ("n_train", "n_val", "n_test") if d.get(k))
        rows = {"model": f"{cfg.spec or '(linear)'}  ({cfg.activation}, head {cfg.head})",
                "parameters": f"{sum(p.numel() for p in self.model.parameters()):,}",
                "data": f"{d.get('name', '?')} ({d.get('source', '?')}): {sizes}",
                "training": f"{t.get('epochs_trained', t.get('epochs'))} epoch(s), {t.get('optimizer')} lr {t.get('lr')}, "
                            f"batch {t.get('batch_size')}, schedule {t.get('schedule')}, {t.get('device')} {t.get('precision')}",
                **{k.replace("_", " "): v for k, v in self.final.items() if v is not None}}
        if self.run_dir is not None:
            rows["saved in"] = str(self.run_dir)
        return heading("Run") + pairs(rows) + curve_svg(self.history)


def run_accuracy(run: Run, images, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """`run`'s accuracy on raw-pixel `images` and its answers (what the robustness scores and fine-tuning's
    before and after are made of)."""
    predicted = np.asarray(run.predict(images)[0])
    return float((predicted == labels).mean()), predicted


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
    return {"mnistlab": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "versions": {"python": platform.python_version(), "torch": torch.__version__},
            "model": run.model.config.to_dict(), "summary": run.model.rows, "data": run.data,
            "normalize": run.normalizer.to_dict(), "classes": list(run.classes), "train": run.train,
            "history": run.history, "final": run.final, "diverged": run.diverged is not None, "extras": run.extras,
            "calibration": run.calibration}


def _foreign(out: Path) -> str | None:
    """Why `out` is not a folder mnistlab may replace, or None: it must be empty, or hold exactly the files
    the manifest in its run.json lists, unchanged (a folder with figures or notes added to it is refused)."""
    entries = sorted(p.name for p in out.iterdir())
    if not entries:
        return None
    try:
        if (out / META).stat().st_size > MAX_RECORD:
            raise ValueError("too large for a run record")
        files = json.loads((out / META).read_text())["files"]
        expected = {META, *files}
    except (OSError, ValueError, KeyError, TypeError):
        return "exists and is not an mnistlab run"
    extra = [name for name in entries if name not in expected]
    if extra:
        listed = ", ".join(extra[:3]) + (f" and {len(extra) - 3} more" if len(extra) > 3 else "")
        return f"holds files that are not part of the run ({listed}); a run replaces only its own files"
    for name, info in files.items():
        path = out / name
        if not path.is_file() or not isinstance(info, dict) or path.stat().st_size != info.get("bytes") \
                or file_digest(path, "sha256") != info.get("sha256"):
            return f"{name} was changed after mnistlab wrote it"
    return None


def check_out_dir(out: str | Path) -> Path:
    """A run may go to a new or empty folder, or replace an earlier run it can prove is its own, unchanged."""
    out = check_output(out)
    if out.is_symlink():
        raise UserError(f"{named('out', out)}: is a symbolic link; give the folder it points to, or a new folder")
    reason = _foreign(out) if out.is_dir() else None
    if reason:
        raise UserError(f"{named('out', out)}: {reason}; choose a new or empty folder")
    return out


def reserve_out_dir(out: str | Path) -> Path:
    """Check `out` and take its lock until the command ends (`fileio.release_all`): a second process that
    wants to save there is refused at once, before it trains."""
    check_output(out)
    reserve(out)
    return check_out_dir(out)


def run_bytes(model: torch.nn.Module) -> int:
    """About the size of a saved run: its weights (run.json's size is in fileio's SPARE_BYTES)."""
    return sum(t.numel() * t.element_size() for t in model.state_dict().values())


def save_run(run, out_dir: str | Path) -> Path:
    """Write the run into a fresh folder that replaces `out_dir` whole, so no reader sees half a run.

    A write that fails (a full disk) leaves nothing behind and says so: the trained model is not kept anywhere."""
    state = {k: v.detach().to("cpu").contiguous() for k, v in run.model.state_dict().items()}
    if not all(torch.isfinite(t).all() for t in state.values() if t.is_floating_point()) \
            or not all(v is None or math.isfinite(v) for v in run.final.values()):
        raise UserError("training diverged: the weights or the loss became NaN or infinite, so the run was not saved; "
                        "try a smaller learning rate")
    out = Path(out_dir)
    lost = f"{out}: nothing was saved: the trained model is lost, free some space or choose another --out and train again"
    try:
        check_space(out, run_bytes(run.model))
    except UserError as exc:
        raise UserError(f"{lost} ({str(exc).split(': ', 1)[1]})") from None
    try:
        with exclusive(check_output(out)), atomic_dir(check_out_dir(out)) as tmp:
            save_file(state, str(tmp / WEIGHTS))
            files = {WEIGHTS: {"bytes": (tmp / WEIGHTS).stat().st_size, "sha256": file_digest(tmp / WEIGHTS, "sha256")}}
            write_json(tmp / META, {**run_record(run), "files": files})
    except (OSError, SafetensorError) as exc:  # a full disk, as the OS or as safetensors reports it
        reason = str(exc).splitlines()[0][:200] if str(exc) else exc.__class__.__name__
        raise UserError(f"{lost} (writing it failed: {reason})") from None
    return out


MAX_RECORD = 64 << 20  # bytes of run.json read at most; a real one is a few hundred kilobytes
MAX_CLASSES, MAX_SIDE, MAX_CHANNELS = 10_000, 4096, 64


def _number(value, lo: float = -math.inf, hi: float = math.inf, whole: bool = False) -> bool:
    kinds = (int,) if whole else (int, float)
    return isinstance(value, kinds) and not isinstance(value, bool) and math.isfinite(value) and lo <= value <= hi


def _constants(value, channels: int, lo: float = -math.inf) -> bool:
    """A normalization constant: one number, or one per channel."""
    if isinstance(value, list):
        return len(value) == channels and all(_number(v, lo) for v in value)
    return _number(value, lo)


def _record_problem(meta) -> str | None:
    """What is wrong with a parsed run.json, checked before anything is built from it; None if it is sound."""
    if not isinstance(meta, dict):
        return "the record is not a JSON object"
    model, norm = meta.get("model"), meta.get("normalize")
    if not isinstance(model, dict) or not isinstance(model.get("spec"), str) or len(model["spec"]) > 10_000:
        return "'model.spec' must be a layer spec string"
    if model.get("activation") not in ACTIVATIONS or model.get("head") not in HEADS:
        return "'model.activation' or 'model.head' is not one mnistlab knows"
    shape = model.get("input_shape")
    if not (isinstance(shape, list) and len(shape) == 3 and _number(shape[0], 1, MAX_CHANNELS, True)
            and all(_number(s, 1, MAX_SIDE, True) for s in shape[1:])):
        return f"'model.input_shape' must be [channels 1..{MAX_CHANNELS}, height, width 1..{MAX_SIDE}]"
    if not _number(model.get("n_classes"), 1, MAX_CLASSES, True):
        return f"'model.n_classes' must be a whole number from 1 to {MAX_CLASSES}"
    if not (isinstance(norm, dict) and set(norm) <= {"mode", "mean", "std"} and norm.get("mode") in NORMALIZATIONS
            and _constants(norm.get("mean", 0.0), shape[0]) and _constants(norm.get("std", 1.0), shape[0], 1e-12)):
        return "'normalize' must hold a known mode, a finite mean and a positive std (one per channel for colour)"
    classes = meta.get("classes", [str(d) for d in range(model["n_classes"])])
    if not (isinstance(classes, list) and len(classes) == model["n_classes"] and all(isinstance(c, str) for c in classes)):
        return "'classes' must list one name per class"
    for key, kind in (("train", dict), ("data", dict), ("history", list), ("extras", dict), ("calibration", dict)):
        if not isinstance(meta.get(key, kind()), kind):
            return f"'{key}' must be a JSON {'object' if kind is dict else 'list'}"
    if "temperature" in meta.get("calibration", {}) and not _number(meta["calibration"]["temperature"], 1e-6, 1e6):
        return "'calibration.temperature' must be a positive number"
    for row in meta.get("history", []):
        if not (isinstance(row, dict) and all(row.get(k) is None or _number(row[k]) for k in (*METRICS, "seconds", "eval_seconds"))
                and all(k in row for k in METRICS)):
            return "every 'history' row must hold the metrics as numbers"
    return None


def _check_weights(weights: Path, files) -> None:
    """Refuse weights that differ from the size and SHA-256 run.json recorded when the run was saved."""
    info = files.get(WEIGHTS) if isinstance(files, dict) else None
    if not isinstance(info, dict) or not isinstance(info.get("sha256"), str):  # removed, it turned the check off
        raise UserError(f"{weights.parent / META}: records no SHA-256 of {WEIGHTS} (an edited record, or a run saved "
                        f"before runs listed their files), so nothing shows these are the weights that were trained; "
                        f"pass --no-verify to load them unchecked")
    if weights.stat().st_size != info.get("bytes") or file_digest(weights, "sha256") != info["sha256"]:
        raise UserError(f"{weights}: the weights were changed after the run was saved (their SHA-256 differs from "
                        f"{META}'s); train the run again, or pass --no-verify to load them as they are")


def load_run(run_dir: str | Path, device: str = "cpu", verify: bool = True):
    """Restore a Run from its directory; a missing, foreign or damaged directory is a user error, found before
    anything is built from it (a record asking for a model too large for this machine is refused by its size).
    `verify`: refuse weights whose SHA-256 differs from the one run.json recorded."""
    path = Path(run_dir)
    if not path.is_dir():
        raise UserError(f"run directory {path} does not exist; pass a folder written by `mnistlab train --out`")
    meta_path, weights = path / META, path / WEIGHTS
    if not meta_path.is_file() or not weights.is_file():
        raise UserError(f"{path} is not an mnistlab run (needs {META} and {WEIGHTS}); pass a folder written by `mnistlab train`")
    if meta_path.stat().st_size > MAX_RECORD:
        raise UserError(f"{meta_path}: {meta_path.stat().st_size:,} bytes is too large for a run record; the file is not from mnistlab")
    try:
        meta = json.loads(meta_path.read_bytes())
    except (ValueError, RecursionError) as exc:
        raise UserError(f"{meta_path}: not a valid mnistlab run record ({exc.__class__.__name__}: {str(exc)[:100]})") from None
    problem = _record_problem(meta)
    if problem:
        raise UserError(f"{meta_path}: not a valid mnistlab run record ({problem})")
    if verify:
        _check_weights(weights, meta.get("files"))
    config = ModelConfig.from_dict(meta["model"])
    normalizer = Normalizer(**meta["normalize"])
    model = build_model(config.spec, config.activation, config.head, config.input_shape, config.n_classes, seed=None)
    try:
        model.load_state_dict(load_file(str(weights)))
    except Exception as exc:  # safetensors raises its own error types for damaged files
        reason = str(exc).splitlines()[0][:200] if str(exc) else exc.__class__.__name__
        raise UserError(f"{weights}: cannot load weights ({reason}); the file is damaged or from another model") from None
    if not all(torch.isfinite(t).all() for t in model.state_dict().values() if t.is_floating_point()):
        raise UserError(f"{weights}: the weights hold NaN or infinite values; the run is damaged, train it again")
    model.to(resolve_device(device)).eval()
    return Run(model, normalizer, meta.get("train", {}), meta.get("data", {}), meta.get("history", []),
               tuple(meta.get("classes", [str(d) for d in range(config.n_classes)])), path, meta.get("extras", {}),
               meta.get("calibration", {}))
