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
from .layers import Activation, Conv, Crop, Dense, Layer, Pool
from .net import Net, smoothed_cross_entropy
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


def _layer_check(name: str, layer: Layer, x: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
    """One layer under loss = sum(r * layer(x)): backward(r) against finite differences, for x and every
    parameter. The forward runs on a copy, because activations work in place."""
    r = rng.normal(size=layer.forward(x.copy()).shape)
    dx = layer.backward(r.copy()).copy()
    grads = {k: g.copy() for k, g in layer.grads.items()}
    loss = lambda: float(np.sum(r * layer.forward(x.copy())))  # noqa: E731
    checks = {f"{name} dx": relative_error(dx, numerical_gradient(loss, x))}
    checks.update({f"{name} d{k}": relative_error(g, numerical_gradient(loss, layer.params[k])) for k, g in grads.items()})
    return checks


def _net_layer_checks(rng: np.random.Generator) -> dict[str, float]:
    """Every layer of the NumPy engine (scratch.layers), float64, on a batch of 2 small images with 3 channels."""
    f64, x = np.float64, rng.normal(size=(2, 9, 9, 3))
    checks: dict[str, float] = {}
    for name, layer, inputs in (
            ("crop2", Crop(2), x), ("conv c4k3s2p1", Conv(3, 4, 3, 2, 1, rng, f64), x),
            ("conv c5k2", Conv(3, 5, 2, 1, 0, rng, f64), x), ("max pool m3s2", Pool("max", 3, 2), x),
            ("max pool m2", Pool("max", 2, 2), x), ("avg pool a2s1", Pool("avg", 2, 1), x),
            ("fc from an image", Dense((9, 9, 3), 4, rng, f64), x), ("fc", Dense((6,), 4, rng, f64), x[:, 0, :6, 0]),
            *((name, Activation(name), x) for name in Activation.FORWARD)):
        checks.update(_layer_check(name, layer, inputs.copy(), rng))
    logits, labels = rng.normal(size=(4, 10)), rng.integers(0, 10, 4)
    numeric = numerical_gradient(lambda: smoothed_cross_entropy(logits, labels, 0.1)[0], logits)
    checks["smoothed cross-entropy dlogits"] = relative_error(smoothed_cross_entropy(logits, labels, 0.1)[1], numeric)
    return checks


def _net_checks(rng: np.random.Generator, spec: str = "crop1 c3k3s2p1 c4k2 m2 f5") -> dict[str, float]:
    """The whole network of a spec in float64: every parameter's gradient of the smoothed loss."""
    net = Net(spec, input_shape=(10, 10, 1), n_classes=6, seed=1, dtype=np.float64)
    images, labels = rng.normal(size=(3, 10, 10)), rng.integers(0, 6, 3)
    net.step_loss(images, labels, 0.1)
    grads = {k: g.copy() for k, g in net.grads.items()}
    return {f"net {spec!r} {k}": relative_error(g, numerical_gradient(lambda: net.step_loss(images, labels, 0.1),
                                                                       net.params[k])) for k, g in grads.items()}


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
        **_pool_checks(rng), **_cnn_checks(rng), **_net_layer_checks(rng), **_net_checks(rng),
        **_autograd_checks(rng, x1, x2),
    }
    return {"max_relative_error": max(checks.values()),
            "checks": [{"name": name, "relative_error": error} for name, error in checks.items()],
            "autograd_example": {"x1": float(x1.data), "x2": float(x2.data), "f": float(f.data),
                                 "df_dx1": float(x1.grad), "df_dx2": float(x2.grad)}}
