"""Classify images with an exported ONNX file and onnxruntime alone: nothing on this path imports torch.

`mnistlab predict --onnx FILE IMAGE...` (cli/predict.py) runs on it before the full command line (which
imports torch to describe the training options) is built, so it runs where torch is not installed.
"""
from __future__ import annotations

import importlib
import json
import os
from pathlib import Path

import numpy as np

from ..errors import UserError

INSTALL = 'pip install "mnistlab[onnx]"'


def require(module: str, purpose: str):
    """Import an optional dependency of the onnx extra, or say in one line what to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(f"{purpose} needs {module}, which is not installed; install it with: {INSTALL}") from None


class OnnxModel:
    """An exported file in an onnxruntime session: raw pixels (N, H, W) in 0..255 → probabilities (N, classes)."""

    def __init__(self, path: str | os.PathLike):
        ort = require("onnxruntime", "running an ONNX model")
        path = Path(path)
        if not path.is_file():
            raise UserError(f"{path}: no such file; pass a file written by `mnistlab export RUN --format onnx`")
        try:
            self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for unreadable models
            raise UserError(f"{path}: onnxruntime cannot load it ({str(exc).splitlines()[0][:160]}); "
                            f"pass a file written by `mnistlab export RUN --format onnx`") from None
        self.input = self.session.get_inputs()[0]
        meta = self.session.get_modelmeta().custom_metadata_map
        n_out = self.session.get_outputs()[0].shape[-1]
        self.classes = tuple(json.loads(meta["classes"])) if "classes" in meta else tuple(str(k) for k in range(n_out))

    @property
    def shape(self) -> tuple[int, int, int]:
        """(channels, height, width) the file takes: its input is (batch, H, W) for gray, (batch, C, H, W) for colour."""
        dims = [int(d) for d in self.input.shape[1:]]
        return (1, *dims) if len(dims) == 2 else tuple(dims)

    def probabilities(self, images) -> np.ndarray:
        x = np.asarray(images, dtype=np.float32)
        if len(self.input.shape) == 4 and x.ndim == 3:
            x = x[:, None]
        return self.session.run(None, {self.input.name: x})[0]


def predict_onnx(path: str | os.PathLike, images) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Predicted classes, probabilities and class names for raw-pixel images (N, H, W) or (N, C, H, W) with an ONNX file."""
    model = OnnxModel(path)
    probs = model.probabilities(images)
    return probs.argmax(1), probs, model.classes
