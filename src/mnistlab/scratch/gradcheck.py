"""Checking hand-written gradients against central finite differences, NumPy only.

The CLI's `scratch gradcheck` runs every check here; the tests compare the same things
with PyTorch autograd.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .autograd import Tensor, cross_entropy, lecture_example
from .cnn import CNN
from .filters import feature_maps, feature_maps_loops
from .patches import make_patches, make_patches_loops
from .pool import avg_pool, avg_pool_backward, max_pool, max_pool_backward


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b|| / max(||a||, ||b||): independent of scale, 0 when both are 0."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    return float(np.linalg.norm(a - b) / scale) if scale else 0.0


def numerical_gradient(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d f / d x by central differences, nudging each entry of x in place (x must be float64)."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        up = f()
        x[i] = old - eps
        down = f()
        x[i] = old
        grad[i] = (up - down) / (2 * eps)
    return grad


def _cnn_checks(rng: np.random.Generator) -> dict[str, float]:
    model = CNN(image_size=10, n_filters=3, patch_size=3, stride=2, hiddens=(6, 5), n_classes=4, dtype=np.float64)
    X, labels = rng.random((5, 10, 10)), rng.integers(0, 4, 5)
    _, grads = model.gradients(X, labels)
    return {f"cnn {name}": relative_error(grads[name], numerical_gradient(lambda: model.gradients(X, labels)[0], w))
            for name, w in model.params.items()}


def _pool_checks(rng: np.random.Generator) -> dict[str, float]:
    x, size, stride = rng.normal(size=(2, 2, 7, 7)), 3, 2
    weights = rng.normal(size=max_pool(x, size, stride).shape)  # loss = sum(weights * pooled)
    return {
        "avg_pool backward": relative_error(avg_pool_backward(weights, x.shape, size, stride),
                                            numerical_gradient(lambda: np.sum(weights * avg_pool(x, size, stride)), x)),
        "max_pool backward": relative_error(max_pool_backward(weights, x, size, stride),
                                            numerical_gradient(lambda: np.sum(weights * max_pool(x, size, stride)), x)),
    }


def _autograd_checks(rng: np.random.Generator, x1: Tensor, x2: Tensor) -> dict[str, float]:
    X, labels = rng.normal(size=(6, 5)), rng.integers(0, 3, 6)
    params = {"w1": rng.normal(size=(5, 4)), "b1": rng.normal(size=4), "w2": rng.normal(size=(4, 3)),
              "b2": rng.normal(size=3)}
    tensors = {name: Tensor(w) for name, w in params.items()}

    def mlp_loss(t: dict[str, Tensor]) -> Tensor:  # a two-layer MLP with cross-entropy loss
        hidden = (Tensor(X) @ t["w1"] + t["b1"]).tanh()
        return cross_entropy(hidden @ t["w2"] + t["b2"], labels)

    mlp_loss(tensors).backward()
    checks = {"autograd example df/dx1": relative_error(x1.grad, 1 / x1.data + x2.data),
              "autograd example df/dx2": relative_error(x2.grad, x1.data - np.cos(x2.data))}
    for name, w in params.items():
        numeric = numerical_gradient(lambda: float(mlp_loss({n: Tensor(p) for n, p in params.items()}).data), w)
        checks[f"autograd mlp {name}"] = relative_error(tensors[name].grad, numeric)
    return checks


def gradcheck(seed: int = 0) -> dict:
    """Every check's relative error, their maximum, and L4's example values (JSON-able)."""
    rng = np.random.default_rng(seed)
    f, x1, x2 = lecture_example()
    images, filters = rng.random((3, 12, 12)), rng.normal(size=(4, 5, 5))
    checks = {
        "patches loops vs as_strided": relative_error(make_patches(images, 5, 2, "pad"),
                                                      make_patches_loops(images, 5, 2, "pad")),
        "feature maps loops vs matmul": relative_error(feature_maps(images, filters, 2),
                                                       feature_maps_loops(images, filters, 2)),
        **_pool_checks(rng), **_cnn_checks(rng), **_autograd_checks(rng, x1, x2),
    }
    return {"max_relative_error": max(checks.values()),
            "checks": [{"name": name, "relative_error": error} for name, error in checks.items()],
            "autograd_example": {"x1": float(x1.data), "x2": float(x2.data), "f": float(f.data),
                                 "df_dx1": float(x1.grad), "df_dx2": float(x2.grad)}}
