"""L1's NumPy CNN: conv → tanh → (FC → tanh)* → softmax, with hand-written backprop.

The conv layer is one matrix multiply: every patch of every image is a row of the patch
matrix (n*P, k*k), every filter a column of the weights (k*k, F). Backprop runs the same
multiply in reverse: the deltas of every filter application are collected into one
(n*P, F) matrix, and since the shared filter's gradient sums the contributions of every
patch it touched, that gradient is patches.T @ deltas -- one multiply again.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from threadpoolctl import threadpool_limits

from ..data import Dataset
from ..errors import UserError
from .optim import OPTIMIZERS
from .patches import make_patches, n_positions


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """log of the softmax; subtracting each row's max first keeps exp from overflowing."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def standardize(images: np.ndarray, mean: float, std: float) -> np.ndarray:
    """Pixels shifted and scaled by the training set's constants: tanh units start near their steep middle."""
    return ((images - mean) / std).astype(np.float32)


class CNN:
    """One conv layer of `n_filters` filters (`patch_size` square, `stride`), tanh, FC layers of `hiddens` units."""

    def __init__(self, image_size: int = 28, n_filters: int = 20, patch_size: int = 5, stride: int = 2,
                 hiddens: tuple[int, ...] = (100,), n_classes: int = 10, seed: int = 0, dtype=np.float32):
        try:
            side = n_positions(image_size, patch_size, stride)
        except UserError as exc:
            raise UserError(f"conv layer: {exc}") from None
        self.patch_size, self.stride, self.n_filters = patch_size, stride, n_filters
        self.fc_names = [f"fc{i + 1}" for i in range(len(hiddens))] + ["out"]
        widths = [side * side * n_filters, *hiddens, n_classes]
        shapes = {"conv": (patch_size * patch_size, n_filters), **dict(zip(self.fc_names, zip(widths, widths[1:])))}
        rng = np.random.default_rng(seed)
        self.params: dict[str, np.ndarray] = {}
        for name, (n_in, n_out) in shapes.items():
            bound = 1 / np.sqrt(n_in)  # PyTorch's default: uniform in +-1/sqrt(fan_in)
            self.params[f"{name}_w"] = rng.uniform(-bound, bound, (n_in, n_out)).astype(dtype)
            self.params[f"{name}_b"] = rng.uniform(-bound, bound, n_out).astype(dtype)

    def forward(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """Log class probabilities of images X (n, H, W), and what backprop needs: patch matrix, layer outputs."""
        p, n = self.params, len(X)
        patches = make_patches(X, self.patch_size, self.stride).reshape(-1, self.patch_size ** 2)  # (n*P, k*k)
        conv = np.tanh(patches @ p["conv_w"] + p["conv_b"])  # (n*P, F): every filter applied to every patch
        outputs = [conv.reshape(n, -1)]                      # flatten: (n, P*F)
        for name in self.fc_names[:-1]:
            outputs.append(np.tanh(outputs[-1] @ p[f"{name}_w"] + p[f"{name}_b"]))
        return log_softmax(outputs[-1] @ p["out_w"] + p["out_b"]), patches, outputs

    def gradients(self, X: np.ndarray, labels: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        """Mean cross-entropy loss and its gradient with respect to every parameter."""
        p, n = self.params, len(X)
        log_probs, patches, outputs = self.forward(X)
        loss = -log_probs[np.arange(n), labels].mean()
        delta = np.exp(log_probs)                    # d loss / d logits: probabilities minus one-hot targets
        delta[np.arange(n), labels] -= 1
        delta /= n
        grads = {}
        for name, z_in in zip(reversed(self.fc_names), reversed(outputs)):
            grads[f"{name}_w"] = z_in.T @ delta
            grads[f"{name}_b"] = delta.sum(axis=0)
            delta = (delta @ p[f"{name}_w"].T) * (1 - z_in ** 2)  # back through the layer and its input's tanh
        delta = delta.reshape(-1, self.n_filters)    # one row per filter application: (n*P, F)
        grads["conv_w"] = patches.T @ delta          # every patch's contribution to the shared filters, summed
        grads["conv_b"] = delta.sum(axis=0)
        return float(loss), grads

    def use(self, X: np.ndarray, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
        """Predicted classes and class probabilities, computed in batches to bound memory."""
        probs = np.concatenate([np.exp(self.forward(X[i:i + batch_size])[0]) for i in range(0, len(X), batch_size)])
        return probs.argmax(axis=1), probs

    def train_epoch(self, X: np.ndarray, labels: np.ndarray, optimizer, batch_size: int,
                    rng: np.random.Generator, on_step: Callable[[int, int], None] | None = None) -> float:
        """One pass over shuffled mini-batches; returns the mean batch loss. `on_step(step, steps)` follows each step."""
        order = rng.permutation(len(X))
        losses = []
        steps = -(-len(X) // batch_size)
        for step, start in enumerate(range(0, len(X), batch_size), start=1):
            batch = order[start:start + batch_size]
            loss, grads = self.gradients(X[batch], labels[batch])
            optimizer.step(grads)
            losses.append(loss)
            if on_step is not None:
                on_step(step, steps)
        return float(np.mean(losses))




def accuracy(model: CNN, X: np.ndarray, labels: np.ndarray) -> float:
    return float((model.use(X)[0] == labels).mean())


MAX_EPOCHS, MAX_BATCH = 10_000, 1_000_000  # beyond these a request is a mistake, not a run


@dataclass(frozen=True)
class Settings:
    """How the NumPy CNN trains: epochs, batch size, learning rate, optimizer (`method`), seed."""

    epochs: int = 2
    batch_size: int = 100
    lr: float = 1e-3
    method: str = "adam"
    seed: int = 0


@threadpool_limits.wrap(limits=1, user_api="blas")
def fit(dataset: Dataset, settings: Settings | None = None, model: CNN | None = None,
        log: Callable[[str], None] = lambda line: None, on_step: Callable[[int, int, int], None] | None = None,
        **given) -> dict:
    """Train a CNN on a data set, evaluating after every epoch; returns metrics and history (JSON-able).

    `given`: Settings' fields by keyword (epochs=2, lr=1e-3, ...). `log` receives one line per epoch,
    `on_step(epoch, step, steps_per_epoch)` follows every step (for progress).

    `seconds` in each history entry is that epoch's training time; the top-level `seconds`
    is the whole run, evaluation included. BLAS runs on one thread: these matrices are
    small, and on a busy machine extra BLAS threads spin waiting for each other (on the
    shared 2-core development machine an epoch took 3 s on one thread, 15-35 s on two).
    """
    settings = replace(settings or Settings(), **given)
    epochs, batch_size, lr, method, seed = settings.epochs, settings.batch_size, settings.lr, settings.method, settings.seed
    if method not in OPTIMIZERS:
        raise UserError(f"optimizer {method!r} is unknown; use one of {', '.join(OPTIMIZERS)}")
    if not (1 <= epochs <= MAX_EPOCHS and 1 <= batch_size <= MAX_BATCH):
        raise UserError(f"epochs ({epochs}) and batch size ({batch_size}) must lie in 1..{MAX_EPOCHS:,} and 1..{MAX_BATCH:,}")
    if not 0 < lr <= 1e10:  # NaN fails too
        raise UserError(f"--lr {lr}: the learning rate must be greater than 0 and at most 1e10 (e.g. 0.001)")
    start = time.perf_counter()
    mean, std = float(dataset.train_images.mean()), float(dataset.train_images.std())
    X, X_test = (standardize(images, mean, std) for images in (dataset.train_images, dataset.test_images))
    model = model or CNN(image_size=X.shape[1], n_classes=dataset.n_classes, seed=seed)
    optimizer = OPTIMIZERS[method](model.params, lr=lr)
    rng = np.random.default_rng(seed)
    history = []
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        step_done = None if on_step is None else lambda step, steps, epoch=epoch: on_step(epoch, step, steps)
        loss = model.train_epoch(X, dataset.train_labels, optimizer, batch_size, rng, step_done)
        seconds = time.perf_counter() - t0
        history.append({"epoch": epoch, "loss": loss, "seconds": seconds,
                        "test_accuracy": accuracy(model, X_test, dataset.test_labels)})
        log(f"epoch {epoch}: loss {loss:.4f}, test accuracy {history[-1]['test_accuracy']:.4f} ({seconds:.1f} s)")
    return {"dataset": dataset.describe(), "epochs": epochs, "batch_size": batch_size, "lr": lr, "method": method,
            "normalization": {"mean": mean, "std": std},
            "train_accuracy": accuracy(model, X, dataset.train_labels), "test_accuracy": history[-1]["test_accuracy"],
            "seconds": time.perf_counter() - start, "history": history}
