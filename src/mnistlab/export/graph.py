"""Exported models: raw pixels in, class probabilities out, checked against PyTorch before the file is kept.

The file holds the run's normalization, its network and its head turned into probabilities (its temperature
applied, as `Run.predict` does), so a user of the file needs nothing from mnistlab: (N, 28, 28) float pixels
in 0..255 go in (any N), (N, classes) probabilities come out. The class names, the spec and the normalization travel in the
file's metadata.
"""
from __future__ import annotations

import copy
import io
import json
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import __version__
from ..errors import UserError
from ..evaluate import load_run_dataset
from ..fileio import atomic_path, check_output, check_space
from ..train.metrics import to_probs
from ..train.run import Run, run_bytes
from . import FORMATS
from .onnxrun import OnnxModel, require

SUFFIXES = {"onnx": ".onnx", "torchscript": ".pt"}
PARITY_IMAGES = 1000
MAX_DIFF = 1e-4  # largest |probability difference| accepted; fp32 kernels of two runtimes differ by about 1e-7
MIN_AGREEMENT = 0.999  # share of equal argmax; a flip needs two classes within MAX_DIFF of each other
OPSET = 17


class PixelsToProbabilities(nn.Module):
    """One module from raw pixels to probabilities: the run's normalization, network, head and temperature, in
    fp32 on the CPU."""

    def __init__(self, run: Run):
        super().__init__()
        self.net = copy.deepcopy(run.model).float().cpu().eval()
        self.normalizer = run.normalizer
        self.head, self.temperature = run.model.config.head, run.temperature
        self.eval()  # exporters restore the mode they found: it must be eval, or batch norm and dropout would train

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return to_probs(self.net(self.normalizer(pixels, pixels.device)), self.head, self.temperature)


def example_input(run: Run, n: int = 2) -> torch.Tensor:
    channels, height, width = run.model.config.input_shape
    return torch.zeros((n, height, width) if channels == 1 else (n, channels, height, width))


def metadata(run: Run) -> dict[str, str]:
    cfg = run.model.config
    return {"classes": json.dumps(list(run.classes)), "spec": cfg.spec, "activation": cfg.activation, "head": cfg.head,
            "normalize": json.dumps(run.normalizer.to_dict()), "run": str(run.run_dir or ""), "mnistlab": __version__,
            "temperature": repr(run.temperature),
            "input": f"float32 pixels 0..255, shape {input_layout(run)}; output: class probabilities (batch, classes)"}


def input_layout(run: Run) -> str:
    """(batch, H, W) for a gray run, (batch, C, H, W) for colour, with the run's numbers."""
    channels, height, width = run.model.config.input_shape
    return f"(batch, {height}, {width})" if channels == 1 else f"(batch, {channels}, {height}, {width})"


def write_onnx(module: PixelsToProbabilities, path: Path, run: Run) -> None:
    onnx = require("onnx", "exporting to ONNX")
    require("onnxruntime", "checking an ONNX export")
    buffer = io.BytesIO()
    # The TorchScript-based exporter: no onnxscript needed, and every layer of the grammar maps to standard ops.
    with torch_deprecations_hidden():
        torch.onnx.export(module, (example_input(run),), buffer, input_names=["pixels"], output_names=["probabilities"],
                          dynamic_axes={"pixels": {0: "batch"}, "probabilities": {0: "batch"}}, opset_version=OPSET,
                          dynamo=False)
    model = onnx.load_from_string(buffer.getvalue())
    onnx.helper.set_model_props(model, metadata(run))
    onnx.save(model, str(path))


@contextmanager
def torch_deprecations_hidden() -> Iterator[None]:
    """torch deprecates TorchScript (trace, save, load) and its TorchScript-based ONNX exporter in favour of
    torch.export; a file in these formats is what the user asked for, so the notice is not theirs (it printed four
    warning lines under `export --format torchscript`, --json too)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        yield


def write_torchscript(module: PixelsToProbabilities, path: Path, run: Run) -> None:
    with torch_deprecations_hidden():
        traced = torch.jit.trace(module, example_input(run))
        torch.jit.save(traced, str(path), _extra_files={"mnistlab.json": json.dumps(metadata(run))})


def runtime(fmt: str, path: Path):
    """The file loaded in its own runtime, as a function from pixels (NumPy) to probabilities (NumPy)."""
    if fmt == "onnx":
        return OnnxModel(path).probabilities
    with torch_deprecations_hidden():
        loaded = torch.jit.load(str(path), map_location="cpu")

    def run_torchscript(pixels: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return loaded(torch.from_numpy(np.asarray(pixels, np.float32))).numpy()
    return run_torchscript


def parity(fmt: str, path: Path, module: PixelsToProbabilities, images: np.ndarray) -> dict:
    """The file's probabilities against PyTorch's (fp32) on `images`: largest difference, argmax agreement, speed."""
    with torch.inference_mode():
        expected = module(torch.from_numpy(images.astype(np.float32))).numpy()
    predict = runtime(fmt, path)
    predict(images[:8])  # warm up: the first call allocates
    start = time.perf_counter()
    got = predict(images)
    seconds = time.perf_counter() - start
    return {"n_images": int(len(images)), "max_abs_diff": float(np.abs(got - expected).max()),
            "argmax_agreement": float((got.argmax(1) == expected.argmax(1)).mean()),
            "images_per_s": float(len(images) / seconds) if seconds > 0 else float("inf")}


WRITERS = {"onnx": write_onnx, "torchscript": write_torchscript}


def export_run(run: Run, fmt: str, out: str | Path | None = None, images: np.ndarray | None = None) -> dict:
    """Write the run as `fmt` to `out` (default: RUN_DIR/model.onnx or model.pt), keeping it only if it passes parity.

    `images`: raw test pixels to check on (default: the first 1,000 test images of the run's data set).
    Returns path, format and the parity numbers.
    """
    if fmt not in FORMATS:
        raise UserError(f"unknown export format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    path = check_output(Path(out) if out else Path(run.run_dir or ".") / f"model{SUFFIXES[fmt]}", folder=False)
    check_space(path, 2 * run_bytes(run.model))  # the weights, and the graph around them
    if images is None:
        images = load_run_dataset(run).test_images[:PARITY_IMAGES]
    module = PixelsToProbabilities(run)
    with atomic_path(path) as tmp:
        WRITERS[fmt](module, tmp, run)
        report = parity(fmt, tmp, module, np.asarray(images))
        if report["max_abs_diff"] > MAX_DIFF or report["argmax_agreement"] < MIN_AGREEMENT:
            raise UserError(f"{path}: the {fmt} file disagrees with PyTorch on {report['n_images']} test images "
                            f"(max |difference| {report['max_abs_diff']:.2g}, argmax agreement "
                            f"{100 * report['argmax_agreement']:.2f}%), so it was not kept; please report this model spec")
    return {"path": str(path), "format": fmt, "input_shape": list(run.model.config.input_shape), **report}
